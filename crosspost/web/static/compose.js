// The compose page: refresh the mock-ups and the field errors as the officer types.
// Plain JavaScript, no build step, nothing from the network. Without it the form still
// works: the checks are shown when the post is saved.
(function () {
  "use strict";
  var form = document.getElementById("compose");
  if (!form) { return; }
  var target = document.getElementById("mockups");
  var summary = document.getElementById("summary");
  var summaryText = document.getElementById("summary-text");
  var timer = null;
  var asked = 0;

  function fields() {
    var data = new FormData(form);
    // the preview needs no image bytes: leave the uploads out
    Array.prototype.forEach.call(form.querySelectorAll("input[type=file]"), function (input) {
      data.delete(input.name);
    });
    return data;
  }

  function showErrors(errors) {
    Array.prototype.forEach.call(form.querySelectorAll(".field-errors"), function (box) {
      var name = box.id.replace(/^errors-/, "");
      var messages = errors[name] || [];
      box.textContent = "";
      messages.forEach(function (message) {
        var p = document.createElement("p");
        p.className = "field-error";
        p.textContent = message;
        box.appendChild(p);
      });
    });
  }

  function refresh() {
    var mine = ++asked;
    var data = fields();
    fetch(form.getAttribute("data-preview"), {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": data.get("csrf"), "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) { throw new Error("preview " + response.status); }
      return response.json();
    }).then(function (answer) {
      if (mine !== asked) { return; }  // a later keystroke's answer is on its way
      target.innerHTML = answer.html;  // rendered and escaped on the server
      showErrors(answer.errors || {});
      summaryText.textContent = answer.summary;
      summary.classList.remove("hidden");
    }).catch(function () {
      summaryText.textContent = "The mock-ups could not be updated just now; saving still checks everything.";
      summary.classList.remove("hidden");
    });
  }

  function later() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(refresh, 300);
  }

  if (summary && summary.getAttribute("role") === "alert") {
    summary.focus();  // a refused save: say why first
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  form.setAttribute("data-live", "on");
}());
