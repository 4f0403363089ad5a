/**
 * claude-magic's JupyterLab side: on request of the kernel (an agent cell), insert a code
 * cell below it, run it as an ordinary execution and send its outputs back, or remove
 * step cells the user has not edited. Everything travels over one comm, "claude-magic".
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
  try {
    const reply = await CodeCell.execute(widget, panel.sessionContext, {
      deletedCells: [],
      recordTiming: false
    });
    if (reply) {
      status = (reply as KernelMessage.IExecuteReplyMsg).content.status;
    }
  } catch (error) {
    status = 'aborted';
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
    tracker.widgetAdded.connect((_, panel) => {
      const session = panel.sessionContext;
      session.kernelChanged.connect((_, change) => connect(app, tracker, change.newValue));
      void session.ready.then(() => connect(app, tracker, session.session?.kernel));
    });
  }
};

export default plugin;
