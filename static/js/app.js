// Dashboard behaviour that would otherwise be inline script, which the Content-Security-Policy forbids
// (script-src 'self': no inline script, no eval, no hx-on attributes).

// Copy buttons: <button data-copy-target="ID"> copies the text of #ID. Where the clipboard API is
// missing (a page on plain http from another machine), it selects the text instead. One listener on
// the document also serves buttons that htmx swaps in later.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy-target]");
  const target = button && document.getElementById(button.dataset.copyTarget);
  if (!target) {
    return;
  }
  if (navigator.clipboard) {
    navigator.clipboard.writeText(target.textContent).then(() => {
      button.textContent = "Copied";
    });
  } else {
    getSelection().selectAllChildren(target);
    button.textContent = "Selected: press Ctrl+C";
  }
});
