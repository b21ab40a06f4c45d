"""The web app: `crosspost serve`, the team's browser front end over the same queue and ledger."""
