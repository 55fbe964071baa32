// A yes/no question in a modal <dialog> (focus starts on the safe answer; ESC says no).

import { byId } from "./dom.js";

/** Resolves true when the person pressed the confirming button. */
export function confirmAction({ title, message, confirmLabel }) {
  const dialog = byId("confirm-dialog");
  const ok = byId("confirm-ok");
  const cancel = byId("confirm-cancel");
  byId("confirm-title").textContent = title;
  byId("confirm-message").textContent = message;
  ok.textContent = confirmLabel;
  return new Promise((resolve) => {
    let answer = false;
    const onOk = () => {
      answer = true;
      dialog.close();
    };
    const onCancel = () => dialog.close();
    const onClose = () => {
      ok.removeEventListener("click", onOk);
      cancel.removeEventListener("click", onCancel);
      resolve(answer);
    };
    ok.addEventListener("click", onOk);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("close", onClose, { once: true });
    dialog.showModal();
    cancel.focus();
  });
}
