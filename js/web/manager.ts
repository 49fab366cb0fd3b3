// The room page's widget manager: ipywidgets' own ManagerBase (the widget protocol, the restore from the kernel)
// over a kernel connection of @jupyterlab/services, as ipywidgets' "web3" example builds one. It knows two modules,
// the ones the chat needs: @jupyter-widgets/base (layout, style) and anywidget; nothing is loaded from elsewhere.
import * as base from "@jupyter-widgets/base";
import { ManagerBase } from "@jupyter-widgets/base-manager";
import type { Kernel } from "@jupyterlab/services";
import type { JSONObject } from "@lumino/coreutils";

type WidgetClass = typeof base.WidgetModel | typeof base.WidgetView;

export class RoomWidgetManager extends ManagerBase {
  constructor(
    readonly kernel: Kernel.IKernelConnection,
    private readonly modules: Record<string, Record<string, unknown>>,
  ) {
    super();
    // widgets the kernel creates from now on (none for the chat, but a comm must find its model)
    kernel.registerCommTarget(this.comm_target_name, async (comm, message) => {
      await this.handle_comm_open(new base.shims.services.Comm(comm), message);
    });
  }

  /** Every widget the kernel holds, restored from it (ipywidgets' `request_states` on the control comm). */
  restore(): Promise<void> {
    return this._loadFromKernel();
  }

  protected async loadClass(className: string, moduleName: string, moduleVersion: string): Promise<WidgetClass> {
    const found = this.modules[moduleName]?.[className];
    if (!found) throw new Error(`no widget class ${moduleName}@${moduleVersion}.${className} on this page`);
    return found as WidgetClass;
  }

  protected async _create_comm(
    targetName: string,
    modelId?: string,
    data?: JSONObject,
    metadata?: JSONObject,
    buffers?: ArrayBuffer[] | ArrayBufferView[],
  ): Promise<base.IClassicComm> {
    const comm = this.kernel.createComm(targetName, modelId);
    if (data || metadata) comm.open(data ?? {}, metadata ?? {}, buffers);
    return new base.shims.services.Comm(comm);
  }

  protected async _get_comm_info(): Promise<{}> {
    const reply = await this.kernel.requestCommInfo({ target_name: this.comm_target_name });
    return reply.content.status === "ok" ? reply.content.comms : {};
  }
}
