/**
 * Reads a V8 `.cpuprofile` (as written by `node --cpu-prof` or the inspector's Profiler.stop) and sums
 * sampled time per function: self time (the function was on top of the stack) and total time (anywhere on
 * the stack, counted once per sample), plus self time per area (our source folders, each package, V8).
 */
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

type CallFrame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type Profile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };

/** One function's sampled time. */
export type FunctionTime = {
  /** `name (file:line)`, the file relative to the project root, lines 1-based. */
  readonly label: string;
  readonly selfMs: number;
  readonly totalMs: number;
};

/** A profile summed up. */
export type ProfileSummary = {
  readonly totalMs: number;
  readonly functions: readonly FunctionTime[];
  /** Self time per area, largest first. */
  readonly areas: readonly { readonly area: string; readonly selfMs: number }[];
};

const toPath = (url: string): string => (url.startsWith('file://') ? fileURLToPath(url) : url);

function areaOf(path: string, root: string, functionName: string): string {
  if (path === '') return functionName.startsWith('(') ? `V8 ${functionName}` : `V8 builtins (${functionName || 'anonymous'})`;
  if (path.startsWith('node:')) return 'node core';
  const inModules = path.lastIndexOf('node_modules/');
  if (inModules >= 0) {
    const rest = path.slice(inModules + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? path);
  }
  const rel = relative(root, path);
  const parts = rel.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}/` : rel;
}

/** Sums a profile; `root` makes file names relative. */
export async function summarizeProfile(file: string, root: string): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const labelOf = (frame: CallFrame): string => {
    const path = toPath(frame.url);
    const where = path === '' ? '' : ` (${path.startsWith('/') ? relative(root, path) : path}:${frame.lineNumber + 1})`;
    return `${frame.functionName || '(anonymous)'}${where}`;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const areas = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((nodeId, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    totalUs += us;
    const leaf = byId.get(nodeId);
    if (leaf === undefined) return;
    const leafLabel = labelOf(leaf.callFrame);
    self.set(leafLabel, (self.get(leafLabel) ?? 0) + us);
    const area = areaOf(toPath(leaf.callFrame.url), root, leaf.callFrame.functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const seen = new Set<string>();
    for (let id: number | undefined = nodeId; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id);
      if (node === undefined) break;
      const label = labelOf(node.callFrame);
      if (seen.has(label)) continue;
      seen.add(label);
      total.set(label, (total.get(label) ?? 0) + us);
    }
  });
  const functions = [...total.entries()]
    .map(([label, us]) => ({ label, selfMs: (self.get(label) ?? 0) / 1000, totalMs: us / 1000 }))
    .sort((a, b) => b.selfMs - a.selfMs);
  return {
    totalMs: totalUs / 1000,
    functions,
    areas: [...areas.entries()].map(([area, us]) => ({ area, selfMs: us / 1000 })).sort((a, b) => b.selfMs - a.selfMs),
  };
}
