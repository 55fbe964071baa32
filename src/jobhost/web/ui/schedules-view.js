// The Schedules view: the user's recurring jobs (GET schedules) with their next and last runs,
// pause and resume (PATCH enabled) and delete after a confirm. The form that creates one is
// schedule-form.js.

import { BASE, request } from "./api.js";
import { confirmAction } from "./confirm.js";
import { byId, h, zonedTimeElement } from "./dom.js";
import { jobLink } from "./jobs-view.js";
import { ScheduleForm } from "./schedule-form.js";

const REFRESH_MS = 1000;
const LABELS = { pause: "Pause", resume: "Resume", remove: "Delete" };

export class SchedulesView {
  /** show(jobId, opener) opens the details of a job (a schedule's last one). */
  constructor({ show }) {
    this.show = show;
    this.session = 0;
    this.reads = 0;
    this.allUsers = false;
    this.signature = null;
    this.form = new ScheduleForm((name) => this.created(name));
    byId("schedules-all").addEventListener("change", (event) => {
      this.allUsers = event.currentTarget.checked;
      this.loadList();
    });
  }

  /** privileged: may list every user's schedules; modes: what the user may submit. */
  setUp(privileged, modes) {
    this.clear();
    this.allUsers = false;
    byId("schedules-all").checked = false;
    byId("schedules-all-toggle").hidden = !privileged;
    this.form.setUp(modes);
  }

  clear() {
    this.session += 1;
    this.signature = null;
    byId("schedule-rows").replaceChildren();
    byId("schedule-table").hidden = true;
    byId("schedules-empty").hidden = true;
    byId("schedules-status").textContent = "";
  }

  /** The view was opened: read the schedules, and the catalog for the form's templates. */
  load() {
    const { session } = this;
    request("GET", `${BASE}/jobs/catalog`).then(
      (catalog) => session === this.session && this.form.offerTemplates(catalog.jobs),
      () => {}, // no catalog: the form offers commands only (or is hidden)
    );
    return this.loadList();
  }

  /** A job changed: if a firing made it, the list shows new times, so read it again soon. */
  changed() {
    if (byId("schedules-view").hidden || this.refreshTimer !== undefined) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.loadList();
    }, REFRESH_MS);
  }

  async loadList() {
    this.reads += 1;
    const { session, reads } = this;
    try {
      const query = { allUsers: this.allUsers ? "true" : undefined };
      const listing = await request("GET", `${BASE}/schedules`, { query });
      if (session === this.session && reads === this.reads) this.render(listing.schedules);
    } catch (error) {
      if (session === this.session && error.status !== 401) {
        this.say(`Could not read the schedules: ${error.message}`, true);
      }
    }
  }

  render(schedules) {
    const signature = JSON.stringify([schedules, this.allUsers]);
    if (signature === this.signature) return;
    this.signature = signature;
    const focused = focusedAction();
    byId("schedule-rows").replaceChildren(...schedules.map((schedule) => this.row(schedule)));
    byId("schedule-table").hidden = schedules.length === 0;
    byId("schedules-empty").hidden = schedules.length > 0;
    restoreFocus(focused);
  }

  row(schedule) {
    const zone = schedule.Timezone;
    const what = schedule.TemplateID ? `template ${schedule.TemplateID}` : "command";
    const last = schedule.LastJobID ? [" · job ", jobLink(schedule.LastJobID, this.show)] : null;
    const cells = [
      [
        h("span", { class: "schedule-name", text: schedule.Name }),
        h("small", { class: "hint", text: what }),
        this.allUsers ? h("small", { class: "owner", text: `of ${schedule.UserID}` }) : null,
      ],
      h("code", { text: schedule.Cron }),
      zone,
      nextRunCell(schedule, zone),
      [zonedTimeElement(schedule.LastRunAt, zone), last, lastError(schedule, zone)],
      h("span", {
        class: `badge state-badge ${schedule.Enabled ? "state-on" : "state-off"}`,
        text: schedule.Enabled ? "Active" : "Paused",
      }),
      [this.button(schedule, schedule.Enabled ? "pause" : "resume"), this.button(schedule, "remove")],
    ];
    return h(
      "tr",
      { class: "schedule", dataset: { scheduleId: schedule.ScheduleID } },
      cells.map((cell) => h("td", {}, cell)),
    );
  }

  button(schedule, action) {
    const label = LABELS[action];
    return h("button", {
      type: "button",
      class: `button small${action === "remove" ? " danger" : ""}`,
      text: label,
      "aria-label": `${label}: ${schedule.Name}`,
      dataset: { action },
      onclick: (event) => this[action === "remove" ? "remove" : "toggle"](schedule, event.currentTarget),
    });
  }

  /** Pause a schedule or resume it (PATCH enabled). */
  async toggle(schedule, button) {
    button.disabled = true;
    try {
      const query = { scheduleId: schedule.ScheduleID };
      await request("PATCH", `${BASE}/schedules`, { query, body: { enabled: !schedule.Enabled } });
      this.say(`${schedule.Enabled ? "Paused" : "Resumed"}: ${schedule.Name}`);
    } catch (failure) {
      this.say(failure.message, true);
      button.disabled = false;
    }
    await this.loadList();
    restoreFocus({ scheduleId: schedule.ScheduleID, action: null }); // on its Pause/Resume
  }

  async remove(schedule, button) {
    const yes = await confirmAction({
      title: "Delete this schedule?",
      message: `“${schedule.Name}” will not run again. The jobs it already ran are kept.`,
      confirmLabel: "Delete",
    });
    if (!yes) {
      button.focus();
      return;
    }
    button.disabled = true;
    try {
      await request("DELETE", `${BASE}/schedules`, { query: { scheduleId: schedule.ScheduleID } });
      this.say(`Deleted: ${schedule.Name}`);
      byId("schedules-title").focus();
    } catch (failure) {
      this.say(failure.message, true);
      button.disabled = false;
    }
    await this.loadList();
  }

  created(name) {
    this.say(`Created: ${name}`);
    this.loadList();
  }

  say(text, isError = false) {
    const status = byId("schedules-status");
    status.textContent = text;
    status.classList.toggle("error", isError);
  }
}

function focusedAction() {
  const active = document.activeElement;
  const row = active?.closest?.("tr.schedule");
  return row ? { scheduleId: row.dataset.scheduleId, action: active.dataset.action } : null;
}

/** After a re-render: focus on the same button of the same schedule (or its first one). */
function restoreFocus(key) {
  if (key === null || document.activeElement?.closest?.("tr.schedule")) return;
  const row = document.querySelector(`tr.schedule[data-schedule-id="${CSS.escape(key.scheduleId)}"]`);
  const same = row?.querySelector(`[data-action="${CSS.escape(key.action ?? "")}"]`);
  (same ?? row?.querySelector("button"))?.focus({ preventScroll: true });
}

/** Why its last firing failed (a refusal, say), until a firing submits a job again. */
function lastError(schedule, zone) {
  if (!schedule.LastError) return null;
  const at = zonedTimeElement(schedule.LastErrorAt, zone);
  return h("small", { class: "schedule-error" }, "Last firing failed ", at, ": ", schedule.LastError);
}

// Enabled with no next run: the schedule stopped (no firing left, or its zone went; logged).
function nextRunCell(schedule, zone) {
  if (!schedule.Enabled) {
    return "— (paused)";
  }
  return schedule.NextRunAt ? zonedTimeElement(schedule.NextRunAt, zone) : "— (stopped)";
}
