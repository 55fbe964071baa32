// The task manager page: signing in and out, the live job listing, the submit form, and the
// actions on each job. See jobs-view.js (rows), output-modal.js (output), live.js (updates),
// and catalog-view.js and schedules-view.js for the other two views (view-switch.js).

import { AUTH, BASE, request, setCsrfToken, whenUnauthorized } from "./api.js";
import { CatalogView } from "./catalog-view.js";
import { confirmAction } from "./confirm.js";
import { byId, h } from "./dom.js";
import { findActionButton, JobsView } from "./jobs-view.js";
import { LiveUpdates } from "./live.js";
import { OutputModal } from "./output-modal.js";
import { SchedulesView } from "./schedules-view.js";
import { clearQueueFields, queueFields, showDependencyChoices } from "./submit-form.js";
import { ViewSwitch } from "./view-switch.js";

const PRIVILEGED = ["task_manager", "debug", "system_admin", "site_admin"];
const MODES = [
  ["BackgroundJob", "A shell command line, run by the server's shell in its own process group."],
  ["Runspace", "Python source, run in a thread of the engine."],
  ["MainLoop", "Python source, run inline in the engine's main loop: it cannot be stopped."],
];
const NOTICE_MS = 8000;

const state = { user: null, allUsers: false, session: 0, loading: false, again: false };

const view = new JobsView(byId("app-view"), {
  cancel: changeJob,
  stop: changeJob,
  output: openOutput,
  details: openOutput,
  remove: removeJob,
  rerun: rerunJob,
  show: showJob,
});
const modal = new OutputModal(returnFocus);
const catalog = new CatalogView({ show: showJob });
const schedules = new SchedulesView({ show: showJob });
const views = new ViewSwitch((name) => {
  if (name === "catalog") catalog.load();
  if (name === "schedules") schedules.load();
});
const live = new LiveUpdates({
  changed: (message) => {
    scheduleRefresh(message === null || message.type === "ready" ? 0 : 50);
    schedules.changed();
  },
  status: showConnection,
  ended: () => signOutLocally("Your session has ended. Please sign in again."),
});

// ---- signing in and out -------------------------------------------------------------------

async function boot() {
  byId("login-form").addEventListener("submit", login);
  byId("logout").addEventListener("click", logout);
  byId("submit-form").addEventListener("submit", submitJob);
  byId("submit-mode").addEventListener("change", showModeHint);
  byId("all-users").addEventListener("change", toggleAllUsers);
  whenUnauthorized(() => {
    if (state.user !== null) signOutLocally("Your session has ended. Please sign in again.");
  });
  setInterval(() => {
    view.tick();
    modal.tick();
  }, 1000);
  try {
    signedIn(await request("GET", `${AUTH}/me`, { quiet401: true }));
  } catch (error) {
    showLogin(error.status === 401 ? "" : error.message);
  }
}

function showLogin(note) {
  byId("loading").hidden = true;
  byId("app-view").hidden = true;
  byId("session-bar").hidden = true;
  byId("login-view").hidden = false;
  byId("login-note").textContent = note;
  byId("login-note").hidden = !note;
  byId("login-error").textContent = "";
  byId("login-username").focus();
}

async function login(event) {
  event.preventDefault();
  const username = byId("login-username").value.trim();
  const password = byId("login-password").value;
  const error = byId("login-error");
  if (!username || !password) {
    error.textContent = "Enter your username and password.";
    return;
  }
  const button = event.submitter ?? byId("login-form").querySelector("button");
  button.disabled = true;
  try {
    const body = await request("POST", `${AUTH}/login`, {
      body: { username, password },
      quiet401: true,
    });
    byId("login-password").value = "";
    signedIn(body);
  } catch (failure) {
    error.textContent = failure.message;
    byId("login-password").select();
  } finally {
    button.disabled = false;
  }
}

function signedIn(body) {
  state.session += 1;
  state.user = body.user;
  state.allUsers = false;
  setCsrfToken(body.csrfToken ?? null);
  const privileged = body.user.Roles.some((role) => PRIVILEGED.includes(role));
  byId("user-name").textContent = body.user.UserID;
  byId("all-users").checked = false;
  byId("all-users-toggle").hidden = !privileged;
  const debug = body.user.Roles.includes("debug");
  view.canRerun = (job) => privileged && (job.ExecutionMode !== "MainLoop" || debug);
  const modes = setUpSubmitForm(privileged, debug);
  catalog.clear();
  schedules.setUp(privileged, modes);
  byId("loading").hidden = true;
  byId("login-view").hidden = true;
  byId("session-bar").hidden = false;
  byId("app-view").hidden = false;
  view.clear();
  views.start();
  live.start(false);
  refresh();
}

async function logout() {
  try {
    await request("POST", `${AUTH}/logout`, { quiet401: true });
  } catch {
    // Signed out on this page either way; an expired session is already gone.
  }
  signOutLocally("You have signed out.");
}

function signOutLocally(note) {
  state.session += 1;
  state.user = null;
  setCsrfToken(null);
  live.stop();
  modal.close();
  view.clear();
  catalog.clear();
  schedules.clear();
  views.stop();
  showLogin(note);
}

// ---- the listing --------------------------------------------------------------------------

let refreshTimer;

function scheduleRefresh(delay) {
  if (refreshTimer === undefined) {
    refreshTimer = setTimeout(() => {
      refreshTimer = undefined;
      refresh();
    }, delay);
  }
}

async function refresh() {
  if (state.loading) {
    state.again = true;
    return;
  }
  state.loading = true;
  const { session } = state;
  try {
    const query = { maxResults: 100, allUsers: state.allUsers ? "true" : undefined };
    const listing = await request("GET", `${BASE}/jobs`, { query });
    if (session === state.session) {
      view.render(listing, state.allUsers);
      showDependencyChoices(listing, state.user.UserID);
    }
  } catch (error) {
    if (session === state.session && error.status !== 401) {
      notify(`Could not read the jobs: ${error.message}`, true);
    }
  } finally {
    state.loading = false;
    if (state.again) {
      state.again = false;
      refresh();
    }
  }
}

function toggleAllUsers(event) {
  state.allUsers = event.currentTarget.checked;
  view.clear();
  live.start(state.allUsers);
  refresh();
}

function showConnection(text, isLive) {
  const element = byId("connection");
  element.textContent = text;
  element.classList.toggle("live", isLive);
}

let noticeTimer;

function notify(text, isError = false) {
  const notice = byId("notice");
  notice.textContent = text;
  notice.classList.toggle("error", isError);
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    notice.textContent = "";
  }, NOTICE_MS);
}

// ---- actions on a job ---------------------------------------------------------------------

/**
 * Cancel (pending) or stop (running) through the stop-only route, which refuses rather than
 * deletes a job that finished meanwhile; delete (finished) through jobs/results.
 */
async function changeJob(job, button, remove = false) {
  button.disabled = true;
  try {
    const [method, path] = remove ? ["DELETE", "/jobs/results"] : ["POST", "/jobs/stop"];
    const body = await request(method, `${BASE}${path}`, { query: { jobId: job.JobID } });
    notify(`${body.message}: ${job.JobName}`);
  } catch (error) {
    notify(error.message, true);
    button.disabled = false;
  }
  scheduleRefresh(0);
}

async function removeJob(job, button) {
  const yes = await confirmAction({
    title: "Delete this job?",
    message: `“${job.JobName}” and its output will be deleted. This cannot be undone.`,
    confirmLabel: "Delete",
  });
  if (yes) {
    await changeJob(job, button, true);
  } else {
    button.focus();
  }
}

function openOutput(job, button) {
  modal.open(job, button);
}

/** Submit a finished job again (POST jobs/rerun), then show the new job. */
async function rerunJob(job, button) {
  button.disabled = true;
  try {
    const body = await request("POST", `${BASE}/jobs/rerun`, { body: { jobId: job.JobID } });
    notify(`Submitted again: ${job.JobName}`);
    scheduleRefresh(0);
    await showJob(body.jobId, button);
  } catch (error) {
    notify(error.message, true);
  } finally {
    button.disabled = false;
  }
}

/** Open the details of a job by id (a dependency, the job a rerun repeats, a new job). */
async function showJob(jobId, opener) {
  try {
    const { job } = await request("GET", `${BASE}/jobs`, { query: { jobId } });
    modal.open(job, opener);
  } catch (error) {
    notify(error.message, true);
  }
}

function returnFocus(job, opener) {
  if (state.user === null) return;
  if (opener?.isConnected && !opener.disabled) {
    opener.focus();
    return;
  }
  const target = findActionButton(job.JobID, opener?.dataset.action ?? "output");
  (target ?? byId("main")).focus();
}

// ---- submitting ---------------------------------------------------------------------------

/** → the modes this user may submit in (none without a privileged role). */
function setUpSubmitForm(privileged, debug) {
  byId("submit-section").hidden = !privileged;
  byId("submit-section").open = false;
  const allowed = MODES.filter(([mode]) => mode !== "MainLoop" || debug);
  byId("submit-mode").replaceChildren(
    ...allowed.map(([mode]) => h("option", { value: mode, text: mode })),
  );
  byId("submit-error").textContent = "";
  showModeHint();
  return privileged ? allowed.map(([mode]) => mode) : [];
}

function showModeHint() {
  const mode = byId("submit-mode").value;
  byId("mode-hint").textContent = MODES.find(([name]) => name === mode)?.[1] ?? "";
}

async function submitJob(event) {
  event.preventDefault();
  const error = byId("submit-error");
  const name = byId("submit-name").value.trim();
  const command = byId("submit-command").value;
  const description = byId("submit-description").value;
  if (!name || !command.trim()) {
    error.textContent = "A job needs a name and a command.";
    (name ? byId("submit-command") : byId("submit-name")).focus();
    return;
  }
  const body = { jobName: name, command, executionMode: byId("submit-mode").value };
  if (description.trim()) body.description = description;
  try {
    Object.assign(body, queueFields());
    await request("POST", `${BASE}/jobs/submit`, { body });
    error.textContent = "";
    notify(`Submitted: ${name}`);
    for (const id of ["submit-name", "submit-description", "submit-command"]) byId(id).value = "";
    clearQueueFields();
    byId("submit-name").focus();
    scheduleRefresh(0);
  } catch (failure) {
    error.textContent = failure.message;
  }
}

boot();
