// The three sections (Pending, Running, Completed) and one row per job.
//
// Rows are kept per job and rebuilt only when the job changed, so that an update arriving
// while someone is tabbing through the buttons does not throw their focus away; a rebuilt
// row gets the focus back on its button of the same kind.

import { formatDuration, h, timeElement } from "./dom.js";

const SECTIONS = ["pending", "running", "completed"];

export class JobsView {
  /**
   * actions: {cancel, stop, output, details, remove, rerun}, each (job, button) → void, and
   * show(jobId, link) → void for links to other jobs. canRerun(job) says whether this user
   * may run a finished job again (set once signed in).
   */
  constructor(root, actions) {
    this.root = root;
    this.actions = actions;
    this.canRerun = () => false;
    this.rows = new Map(); // JobID → {element, signature, runtime, job, baseRuntime, baseAt}
  }

  clear() {
    this.rows.clear();
    for (const name of SECTIONS) {
      this.section(name).querySelector(".job-list").replaceChildren();
    }
  }

  section(name) {
    return this.root.querySelector(`#${name}`);
  }

  /** Show a GET jobs listing; showOwner adds each job's user (every user's jobs shown). */
  render(listing, showOwner) {
    const focused = focusKey();
    const seen = new Set();
    for (const name of SECTIONS) {
      const jobs = listing.jobs[name] ?? [];
      const elements = jobs.map((job) => this.rowFor(job, showOwner));
      jobs.forEach((job) => seen.add(job.JobID));
      const section = this.section(name);
      reorder(section.querySelector(".job-list"), elements);
      const count = listing.counts?.[name] ?? jobs.length;
      section.querySelector(".count").textContent = String(count);
      section.querySelector(".empty").hidden = count > 0;
      const more = section.querySelector(".more");
      if (more !== null) {
        more.hidden = count <= jobs.length;
        more.textContent = `Showing the newest ${jobs.length} of ${count}.`;
      }
    }
    for (const id of [...this.rows.keys()].filter((key) => !seen.has(key))) {
      this.rows.get(id).element.remove();
      this.rows.delete(id);
    }
    restoreFocus(focused);
  }

  rowFor(job, showOwner) {
    const signature = JSON.stringify({
      ...job,
      Runtime: isRunning(job) ? 0 : job.Runtime,
      showOwner,
      rerun: this.canRerun(job),
    });
    let row = this.rows.get(job.JobID);
    if (row === undefined || row.signature !== signature) {
      const runtime = h("span", { class: "runtime" });
      const element = this.buildRow(job, showOwner, runtime);
      row?.element.replaceWith(element);
      row = { element, signature, runtime };
      this.rows.set(job.JobID, row);
    }
    Object.assign(row, { job, baseRuntime: job.Runtime, baseAt: performance.now() });
    this.showRuntime(row);
    return row.element;
  }

  /** Running jobs' runtimes move on by themselves, once a second. */
  tick() {
    for (const row of this.rows.values()) {
      if (isRunning(row.job)) {
        this.showRuntime(row);
      }
    }
  }

  showRuntime(row) {
    const { job } = row;
    if (isRunning(job) && job.StartedAt) {
      const elapsed = (performance.now() - row.baseAt) / 1000;
      row.runtime.textContent = formatDuration((row.baseRuntime ?? 0) + elapsed);
    } else {
      row.runtime.textContent = formatDuration(job.Runtime, true);
    }
  }

  buildRow(job, showOwner, runtime) {
    const description = job.Description ? h("p", { class: "job-desc", text: job.Description }) : null;
    return h(
      "li",
      { class: `job status-${category(job)}`, id: `job-${job.JobID}`, dataset: { jobId: job.JobID } },
      h(
        "div",
        { class: "job-main" },
        h(
          "div",
          { class: "job-title" },
          h("span", { class: "job-name", text: job.JobName }),
          modeBadge(job.ExecutionMode),
          statusBadge(job.Status),
        ),
        description,
        this.reason(job),
        h("dl", { class: "job-meta" }, this.meta(job, showOwner, runtime)),
      ),
      h("div", { class: "job-actions" }, this.buttons(job)),
    );
  }

  meta(job, showOwner, runtime) {
    const items = [["Submitted", timeElement(job.SubmittedAt)]];
    if (job.StartedAt) items.push(["Started", timeElement(job.StartedAt)]);
    if (job.CompletedAt) items.push(["Finished", timeElement(job.CompletedAt)]);
    if (job.StartedAt) items.push(["Runtime", runtime]);
    if (job.ExitCode !== null && job.ExitCode !== undefined) {
      items.push(["Exit code", h("span", { text: String(job.ExitCode) })]);
    }
    if (showOwner) items.push(["User", h("span", { class: "owner", text: job.UserID })]);
    if (category(job) === "pending" && job.RunAt) items.push(["Runs at", timeElement(job.RunAt)]);
    if (category(job) === "pending" && job.DependsOn?.length) {
      items.push(["Waits for", h("span", { class: "job-links" }, this.links(job.DependsOn))]);
    }
    if (job.RerunOf) items.push(["Rerun of", this.links([job.RerunOf])]);
    return items.map(([term, value]) => h("div", {}, h("dt", { text: term }), h("dd", {}, value)));
  }

  /** Why a pending job is not running, as the dispatcher last decided. */
  reason(job) {
    if (category(job) !== "pending" || !job.PendingReason) return null;
    return h("p", { class: "job-reason", text: job.PendingReason });
  }

  /** Links to other jobs by id: each opens that job's details. */
  links(jobIds) {
    return jobIds.map((jobId) => jobLink(jobId, this.actions.show));
  }

  buttons(job) {
    const act = (name, label, cls = "") =>
      h("button", {
        type: "button",
        class: `button small ${cls}`,
        text: label,
        "aria-label": `${label}: ${job.JobName}`,
        dataset: { action: name },
        onclick: (event) => this.actions[name](job, event.currentTarget),
      });
    switch (category(job)) {
      case "pending":
        return [act("cancel", "Cancel")];
      case "running":
        return [act("output", "View output"), this.stopControl(job, act)];
      default:
        return [
          act("details", "View details"),
          this.canRerun(job) ? act("rerun", "Run again") : null,
          act("remove", "Delete", "danger"),
        ];
    }
  }

  stopControl(job, act) {
    if (job.ExecutionMode === "MainLoop") {
      return h("span", {
        class: "badge inline-badge",
        title: "MainLoop jobs run synchronously inside the engine and cannot be stopped",
        text: "inline, cannot stop",
      });
    }
    if (job.Status === "Stopping") {
      return h("span", { class: "badge status-badge status-Stopping", text: "Stopping…" });
    }
    return act("stop", "Stop", "danger");
  }
}

/** A link to a job by id (its first 8 characters); show(jobId, link) opens its details. */
export function jobLink(jobId, show) {
  return h("a", {
    href: `#job-${jobId}`,
    class: "job-link",
    title: jobId,
    "aria-label": `Job ${jobId}`,
    text: jobId.slice(0, 8),
    onclick: (event) => {
      event.preventDefault();
      show(jobId, event.currentTarget);
    },
  });
}

export function modeBadge(mode) {
  return h("span", { class: `badge mode-badge mode-${cssName(mode)}`, text: mode });
}

export function statusBadge(status) {
  return h("span", { class: `badge status-badge status-${cssName(status)}`, text: status });
}

const RUNNING = new Set(["Running", "Stopping"]);
const PENDING = new Set(["Pending", "Waiting", "Scheduled"]);

export function category(job) {
  if (PENDING.has(job.Status)) return "pending";
  if (RUNNING.has(job.Status)) return "running";
  return "completed";
}

function isRunning(job) {
  return RUNNING.has(job.Status);
}

/** Class-name-safe form of a server value (statuses and modes are plain words anyway). */
function cssName(value) {
  return String(value).replace(/[^A-Za-z0-9_-]/g, "");
}

/** Makes list's children exactly ``elements`` in order, moving only what is out of place. */
function reorder(list, elements) {
  elements.forEach((element, index) => {
    if (list.children[index] !== element) {
      list.insertBefore(element, list.children[index] ?? null);
    }
  });
  while (list.children.length > elements.length) {
    list.lastElementChild.remove();
  }
}

function focusKey() {
  const active = document.activeElement;
  const row = active?.closest?.("li.job");
  if (!row) return null;
  const section = row.closest("section");
  return { element: active, jobId: row.dataset.jobId, action: active.dataset.action, section };
}

/** After a re-render: focus back where it was, or on the same kind of button of the job. */
function restoreFocus(key) {
  if (key === null || document.activeElement === key.element) return;
  if (key.element.isConnected) {
    key.element.focus({ preventScroll: true });
    return;
  }
  if (document.activeElement !== document.body && document.activeElement !== null) return;
  const target = findActionButton(key.jobId, key.action ?? "")
    ?? key.section.querySelector("h2");
  target.focus({ preventScroll: true });
}

/** The row's button for ``action`` on job ``jobId``, if the row is on the page. */
export function findActionButton(jobId, action) {
  const row = document.querySelector(`li.job[data-job-id="${CSS.escape(jobId)}"]`);
  return row?.querySelector(`[data-action="${CSS.escape(action)}"]`) ?? row?.querySelector("button") ?? null;
}
