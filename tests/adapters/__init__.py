"""Tests of crosspost.adapters, one file per adapter and topic."""

import pytest

# the shared helpers hold asserts of their own: rewrite them, as in a test module
pytest.register_assert_rewrite(
    f"{__name__}.x_helpers", f"{__name__}.facebook_helpers", f"{__name__}.instagram_helpers"
)
