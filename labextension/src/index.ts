/**
 * claude-magic's JupyterLab side: on request of the kernel (an agent cell), insert a code
 * cell below it, run it as an ordinary execution and send its outputs back, or remove
 * step cells the user has not edited. Everything travels over one comm, "claude-magic".
 * A click on an agent cell's Stop button while its step runs interrupts that step: the
 * kernel hears the click itself only once the step's cell has ended.
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';

const TARGET = 'claude-magic';
const VERSION = 1;

type JSONObject = { [key: string]: any };

/** This page, among the front ends a kernel may have: the kernel addresses one. */
const INSTANCE = Math.random().toString(36).slice(2) + Date.now().toString(36);

/** Kernel connections already set up (one per kernel per page). */
const seen = new WeakSet<Kernel.IKernelConnection>();

/** A step's cell while it waits or runs; `started` while the kernel executes it. */
interface IRunningStep {
  kernel: Kernel.IKernelConnection;
  started: boolean;
}

/** The steps of this page now: the agent cell's id -> its step's cell. */
const runningSteps = new Map<string, IRunningStep>();

/** An answer's Stop button: the only button beside the header of its live view. */
const STOP_BUTTON = '.claude-magic-controls button';

function ready(app: JupyterFrontEnd): JSONObject {
  return {
    type: 'ready',
    version: VERSION,
    frontend: `${app.name} ${app.version}`,
    instance: INSTANCE
  };
}

/** The open notebook whose kernel is `kernel` and that holds cell `cellId`. */
function findPanel(
  tracker: INotebookTracker,
  kernel: Kernel.IKernelConnection,
  cellId: string
): NotebookPanel | null {
  let found: NotebookPanel | null = null;
  tracker.forEach(panel => {
    if (found || panel.isDisposed || !panel.content.model) {
      return;
    }
    if (panel.sessionContext.session?.kernel?.id !== kernel.id) {
      return;
    }
    if (cellIndex(panel, cellId) >= 0) {
      found = panel;
    }
  });
  return found;
}

function cellIndex(panel: NotebookPanel, cellId: string | null): number {
  if (!cellId || !panel.content.model) {
    return -1;
  }
  const cells = panel.content.model.sharedModel.cells;
  return cells.findIndex(cell => cell.getId() === cellId);
}

/** `run`: insert the step's cell, say which it is, execute it, send its outputs. */
async function run(
  tracker: INotebookTracker,
  kernel: Kernel.IKernelConnection,
  comm: Kernel.IComm,
  data: JSONObject
): Promise<void> {
  const request = data.request;
  const fail = (reason: string) => comm.send({ type: 'failed', request, reason });
  const panel = findPanel(tracker, kernel, String(data.agent_cell));
  if (!panel || !panel.content.model) {
    fail('The agent cell is not in an open notebook of this kernel.');
    return;
  }
  const model = panel.content.model;
  if (model.readOnly) {
    fail('The notebook is read-only.');
    return;
  }
  let index = cellIndex(panel, data.after ?? null);
  if (index < 0) {
    index = cellIndex(panel, String(data.agent_cell));
  }
  const shared = model.sharedModel;
  const inserted = shared.insertCell(index + 1, {
    cell_type: 'code',
    source: String(data.code ?? ''),
    metadata: (data.metadata as JSONObject) ?? {}
  });
  const cellId = inserted.getId();
  comm.send({ type: 'inserted', request, cell: cellId });
  const widget = panel.content.widgets.find(w => w.model.id === cellId);
  if (!(widget instanceof CodeCell)) {
    fail('The inserted cell could not be found.');
    return;
  }
  let status = 'aborted';
  const agentCell = String(data.agent_cell);
  const step: IRunningStep = { kernel, started: false };
  let requestId = '';
  const watch = (_: unknown, args: Kernel.IAnyMessageArgs) => {
    const msg = args.msg;
    if (args.direction === 'send' && msg.header.msg_type === 'execute_request') {
      if ((msg.metadata as JSONObject)?.cellId === cellId) {
        requestId = msg.header.msg_id;
      }
    } else if (requestId && (msg.parent_header as JSONObject)?.msg_id === requestId) {
      if (msg.header.msg_type === 'execute_input') {
        step.started = true; // from here on an interrupt reaches this step, not a queued cell
      } else if (msg.header.msg_type === 'execute_reply') {
        step.started = false; // it ended: the kernel may be running a cell of the user's
      }
    }
  };
  kernel.anyMessage.connect(watch);
  runningSteps.set(agentCell, step);
  try {
    const reply = await CodeCell.execute(widget, panel.sessionContext, {
      deletedCells: [],
      recordTiming: panel.content.notebookConfig.recordTiming // the user's setting
    });
    if (reply) {
      status = (reply as KernelMessage.IExecuteReplyMsg).content.status;
    }
  } catch (error) {
    status = 'aborted';
  } finally {
    kernel.anyMessage.disconnect(watch);
    runningSteps.delete(agentCell);
  }
  const outputs = widget.isDisposed ? [] : widget.model.outputs.toJSON();
  comm.send({
    type: 'done',
    request,
    cell: cellId,
    execution_count: widget.isDisposed ? null : widget.model.executionCount,
    status,
    outputs: outputs as any
  });
}

/** `remove`: delete the cells whose source is still what the kernel expects. */
function remove(
  tracker: INotebookTracker,
  kernel: Kernel.IKernelConnection,
  comm: Kernel.IComm,
  data: JSONObject
): void {
  const request = data.request;
  const expected = (data.cells as { [id: string]: string }) ?? {};
  const removed: string[] = [];
  const kept: string[] = [];
  const panel = findPanel(tracker, kernel, String(data.agent_cell));
  if (!panel || !panel.content.model || panel.content.model.readOnly) {
    comm.send({ type: 'removed', request, removed, kept: Object.keys(expected) });
    return;
  }
  const shared = panel.content.model.sharedModel;
  for (const [id, source] of Object.entries(expected)) {
    const index = cellIndex(panel, id);
    if (index >= 0 && shared.cells[index].getSource() === source) {
      shared.deleteCell(index);
      removed.push(id);
    } else {
      kept.push(id);
    }
  }
  comm.send({ type: 'removed', request, removed, kept });
}

/** A click on a Stop button of an agent cell whose step runs: interrupt that step. The
 * click itself still reaches the kernel first (it was sent before the interrupt), so the
 * agent cell ends as stopped, with the interrupted step reported. */
function stopRunningStep(tracker: INotebookTracker, event: Event): void {
  const target = event.target as Element | null;
  const button = target?.closest?.(STOP_BUTTON);
  const cellNode = button?.closest('.jp-Cell');
  if (!cellNode || (button as HTMLButtonElement).disabled) {
    return;
  }
  let cellId: string | null = null;
  tracker.forEach(panel => {
    const widget = panel.content.widgets.find(w => w.node === cellNode);
    if (widget) {
      cellId = widget.model.id;
    }
  });
  const step = cellId ? runningSteps.get(cellId) : undefined;
  if (step?.started && !step.kernel.isDisposed) {
    setTimeout(() => {
      // the click's own message goes out first; the step may have ended meanwhile
      if (runningSteps.get(cellId as string) === step) {
        step.kernel.interrupt().catch(() => undefined);
      }
    }, 0);
  }
}

/** Answer the kernel's messages on `comm`. */
function serve(
  tracker: INotebookTracker,
  kernel: Kernel.IKernelConnection,
  comm: Kernel.IComm
): void {
  comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => {
    const data = (msg.content.data ?? {}) as JSONObject;
    if (data.to && data.to !== INSTANCE) {
      return; // addressed to another page connected to the same kernel
    }
    if (data.type === 'run') {
      run(tracker, kernel, comm, data).catch(error => {
        comm.send({
          type: 'failed',
          request: data.request,
          reason: `The step could not run: ${error}`.split('\n')[0]
        });
      });
    } else if (data.type === 'remove') {
      remove(tracker, kernel, comm, data);
    }
  };
}

/** Open a comm from this side when claude_magic is loaded in the kernel (it has a comm of
 * ours open), e.g. after this page was reloaded. */
async function greet(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  kernel: Kernel.IKernelConnection
): Promise<void> {
  const reply = await kernel.requestCommInfo({ target_name: TARGET });
  const content = reply.content;
  if (content.status !== 'ok' || !Object.keys(content.comms).length) {
    return;
  }
  const comm = kernel.createComm(TARGET);
  serve(tracker, kernel, comm);
  comm.open(ready(app));
}

function connect(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  kernel: Kernel.IKernelConnection | null | undefined
): void {
  if (!kernel || seen.has(kernel)) {
    return;
  }
  seen.add(kernel);
  kernel.registerCommTarget(TARGET, (comm, msg) => {
    serve(tracker, kernel, comm);
    const data = (msg.content.data ?? {}) as JSONObject;
    if (data.type === 'hello') {
      comm.send(ready(app));
    }
  });
  const greetQuietly = () => {
    greet(app, tracker, kernel).catch(() => undefined);
  };
  let restarted = false;
  kernel.statusChanged.connect((_, status) => {
    if (status === 'restarting' || status === 'autorestarting') {
      restarted = true;
    } else if (status === 'idle' && restarted) {
      restarted = false;
      greetQuietly();
    }
  });
  greetQuietly();
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'claude-magic:plugin',
  description: 'Runs the cells that claude-magic agent cells ask for.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker) => {
    document.addEventListener('click', event => stopRunningStep(tracker, event), true);
    tracker.widgetAdded.connect((_, panel) => {
      const session = panel.sessionContext;
      session.kernelChanged.connect((_, change) => connect(app, tracker, change.newValue));
      void session.ready.then(() => connect(app, tracker, session.session?.kernel));
    });
  }
};

export default plugin;
