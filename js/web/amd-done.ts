// Runs right after the anywidget package (see amd.ts): the global `define` goes before any other module runs.
import { removeDefine } from "./amd";

removeDefine();
