// The submit form's queue-control fields: priority, the jobs it depends on (picked from the
// user's own jobs in the listing) and a run-at time (typed in the browser's time zone, sent
// in UTC). The server checks them all again.

import { byId, h } from "./dom.js";

const MAX_DEPENDENCIES = 100;

/** The fields to add to a submit body; throws Error with a sentence when one is wrong. */
export function queueFields() {
  const fields = {};
  const priority = byId("submit-priority").value.trim();
  if (priority !== "" && Number(priority) !== 0) {
    const value = Number(priority);
    if (!Number.isInteger(value) || value < -100 || value > 100) {
      throw new Error("Priority must be a whole number from -100 to 100.");
    }
    fields.priority = value;
  }
  const dependsOn = [...byId("submit-depends-on").selectedOptions].map((option) => option.value);
  if (dependsOn.length > MAX_DEPENDENCIES) {
    throw new Error(`A job may depend on at most ${MAX_DEPENDENCIES} jobs.`);
  }
  if (dependsOn.length) fields.dependsOn = dependsOn;
  const runAt = byId("submit-run-at").value;
  if (runAt) {
    const when = new Date(runAt); // datetime-local has no zone: the browser's own
    if (Number.isNaN(when.getTime())) throw new Error("Run at is not a time.");
    fields.runAt = when.toISOString();
  }
  return fields;
}

export function clearQueueFields() {
  byId("submit-priority").value = "0";
  byId("submit-run-at").value = "";
  for (const option of byId("submit-depends-on").options) option.selected = false;
}

/** Offer the user's own jobs in the listing as dependencies, keeping what is selected. */
export function showDependencyChoices(listing, userId) {
  const select = byId("submit-depends-on");
  const chosen = new Set([...select.selectedOptions].map((option) => option.value));
  const jobs = ["pending", "running", "completed"]
    .flatMap((name) => listing.jobs[name] ?? [])
    .filter((job) => job.UserID === userId);
  const options = jobs.map((job) =>
    h("option", {
      value: job.JobID,
      selected: chosen.has(job.JobID),
      text: `${job.JobName} · ${job.Status} · ${job.JobID.slice(0, 8)}`,
    }),
  );
  const same =
    options.length === select.options.length &&
    options.every((option, i) => option.value === select.options[i].value && option.text === select.options[i].text);
  if (!same) select.replaceChildren(...options);
}
