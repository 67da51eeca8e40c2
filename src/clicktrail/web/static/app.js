// Clicktrail: the little JavaScript the pages use. Everything works without it, only less smoothly.
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy") ? resolve() : reject(); } catch (e) { reject(e); }
      document.body.removeChild(area);
    });
  }

  // The Web Share API where the browser has it (phones): a Share button beside each Copy.
  if (navigator.share) {
    document.querySelectorAll("[data-share]").forEach(function (b) { b.hidden = false; });
  }

  document.addEventListener("click", function (event) {
    var share = event.target.closest("[data-share]");
    if (share && navigator.share) {
      navigator.share({ url: share.getAttribute("data-share") }).catch(function () {});
      return;
    }
    var button = event.target.closest("[data-copy]");
    if (button) {
      var label = button.textContent;
      copyText(button.getAttribute("data-copy")).then(function () {
        button.textContent = "Copied ✓";
        button.classList.add("copied");
      }, function () {
        button.textContent = "Press Ctrl+C";
      });
      setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 1600);
      return;
    }
    var qr = event.target.closest("[data-qr]");
    var dialog = document.getElementById("qr-dialog");
    if (qr && dialog && typeof dialog.showModal === "function") {
      event.preventDefault();
      document.getElementById("qr-dialog-img").src = qr.getAttribute("data-qr");
      document.getElementById("qr-dialog-title").textContent = qr.getAttribute("data-qr-title");
      document.getElementById("qr-dialog-svg").href = qr.getAttribute("data-qr-svg");
      document.getElementById("qr-dialog-png").href = qr.getAttribute("data-qr-png");
      dialog.showModal();
      return;
    }
    if (event.target.closest("[data-close]")) {
      event.target.closest("dialog").close();
    }
  });

  // Click on the backdrop closes the QR dialog.
  document.addEventListener("click", function (event) {
    if (event.target.tagName === "DIALOG") { event.target.close(); }
  });

  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
})();

// Day charts scroll sideways on a phone: start at the latest days.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".chart-scroll").forEach(function (box) { box.scrollLeft = box.scrollWidth; });
});

// The link page's card mock-ups follow what is typed (and a chosen image) as it is typed.
(function () {
  "use strict";
  var form = document.querySelector("[data-card-form]");
  var previews = document.querySelector("[data-card-previews]");
  if (!form || !previews) { return; }
  var chosen = null;
  function show(name, value) {
    previews.querySelectorAll('[data-card-show="' + name + '"]').forEach(function (el) {
      if (name === "image") {
        if (value) { el.src = value; el.hidden = false; } else { el.removeAttribute("src"); el.hidden = true; }
      } else {
        el.textContent = value || (name === "title" ? "Your title" : "");
      }
    });
  }
  function field(name) { return form.querySelector('[data-card-field="' + name + '"]'); }
  function update() {
    show("title", field("title").value.trim());
    show("description", field("description").value.trim());
    show("image", chosen || field("image").value.trim() || previews.getAttribute("data-uploaded"));
  }
  form.addEventListener("input", update);
  field("file").addEventListener("change", function (event) {
    var file = event.target.files && event.target.files[0];
    if (chosen) { URL.revokeObjectURL(chosen); }
    chosen = file ? URL.createObjectURL(file) : null;
    update();
  });
})();
