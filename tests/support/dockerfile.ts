import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';

/**
 * The Dockerfile replayed without Docker (none runs here): each stage gets a folder as its root file
 * system, and its instructions are carried out there — COPY from the build context (as `.dockerignore`
 * lets through) or another stage, WORKDIR, ENV, and the RUN lines this file knows how to replay. A RUN
 * line it does not know fails the replay, so the Dockerfile cannot take a step the test does not take.
 */

export type Instruction = { readonly op: string; readonly args: string };

export type Stage = {
  readonly name: string;
  /** The image or earlier stage it starts from. */
  readonly from: string;
  readonly instructions: readonly Instruction[];
};

/** The Dockerfile's stages, with `\` continuations joined and comments dropped. */
export function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) pending += `${line.slice(0, -1).trim()} `;
    else {
      logical.push(`${pending}${line}`.trim());
      pending = '';
    }
  }
  const stages: { name: string; from: string; instructions: Instruction[] }[] = [];
  for (const line of logical) {
    const m = /^([A-Z]+)\s+(.*)$/.exec(line);
    if (m?.[1] === undefined || m[2] === undefined) throw new Error(`Dockerfile: cannot read "${line}"`);
    const [op, args] = [m[1], m[2]];
    if (op === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (from?.[1] === undefined) throw new Error(`Dockerfile: cannot read "${line}"`);
      stages.push({ name: from[2] ?? `stage${stages.length}`, from: from[1], instructions: [] });
    } else if (op === 'ARG' && stages.length === 0) {
      // A build argument before the first FROM only picks the base image.
    } else {
      const stage = stages.at(-1);
      if (stage === undefined) throw new Error(`Dockerfile: ${op} before the first FROM`);
      stage.instructions.push({ op, args });
    }
  }
  return stages;
}

/** The JSON-array (exec) form of CMD, or HEALTHCHECK's CMD after its options. */
export function execForm(args: string): string[] {
  const json = args.slice(args.indexOf('['));
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) {
    throw new Error(`not an exec-form command: ${args}`);
  }
  return parsed;
}

/** `ENV a=1 b="two words"` (the key=value form, a value in double quotes may hold spaces) as pairs. */
export function envOf(args: string): Record<string, string> {
  const env: Record<string, string> = {};
  const pair = /\s*([^\s=]+)=("[^"]*"|[^\s"]*)(?=\s|$)/y;
  let at = 0;
  while (at < args.trimEnd().length) {
    pair.lastIndex = at;
    const m = pair.exec(args);
    if (m?.[1] === undefined || m[2] === undefined)
      throw new Error(`ENV in the key=value form only: ${args}`);
    env[m[1]] = m[2].replace(/^"(.*)"$/, '$1');
    at = pair.lastIndex;
  }
  return env;
}

/** What `.dockerignore` lets into the build context: it must ignore everything (`*`) but a list. */
export function contextAllowList(dockerignore: string): Set<string> {
  const lines = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines[0] !== '*' || !lines.slice(1).every((l) => l.startsWith('!'))) {
    throw new Error('.dockerignore must be an allow list: `*`, then `!path` lines');
  }
  return new Set(lines.slice(1).map((l) => l.slice(1).replace(/\/$/, '')));
}

/** How one RUN line is replayed: in the stage's working directory, with the given environment. */
export type RunReplay = (command: string, at: { readonly cwd: string; readonly root: string }) => void;

export type Replayed = {
  /** Each stage's root folder. */
  readonly roots: ReadonlyMap<string, string>;
  /** Each stage's working directory, inside its root. */
  readonly workdirs: ReadonlyMap<string, string>;
  /** Each stage's environment from ENV, values as written (absolute paths are inside the image). */
  readonly env: ReadonlyMap<string, Record<string, string>>;
};

/** A path inside a stage's image, as a path under that stage's root folder. */
export const inRoot = (root: string, imagePath: string, workdir = '/'): string =>
  path.join(root, path.posix.resolve(workdir, imagePath));

/**
 * Replays `stages` under `into` (one folder per stage), copying from `context` what `.dockerignore`
 * (`allowed`) lets in. `run` replays each RUN line; instructions that only describe the container
 * (USER, VOLUME, EXPOSE, HEALTHCHECK, CMD) are left to the caller.
 */
export function replayStages(
  stages: readonly Stage[],
  opts: {
    readonly context: string;
    readonly allowed: ReadonlySet<string>;
    readonly into: string;
    readonly run: RunReplay;
  },
): Replayed {
  const roots = new Map<string, string>();
  const workdirs = new Map<string, string>();
  const envs = new Map<string, Record<string, string>>();
  for (const stage of stages) {
    const root = path.join(opts.into, stage.name);
    const parent = roots.get(stage.from);
    if (parent !== undefined) copy(parent, root, true);
    else mkdirSync(root, { recursive: true });
    let workdir = workdirs.get(stage.from) ?? '/';
    const env = { ...(envs.get(stage.from) ?? {}) };
    for (const { op, args } of stage.instructions) {
      switch (op) {
        case 'WORKDIR':
          workdir = path.posix.resolve(workdir, args);
          mkdirSync(inRoot(root, workdir), { recursive: true });
          break;
        case 'ENV':
          Object.assign(env, envOf(args));
          break;
        case 'COPY': {
          const words = args.split(/\s+/);
          const fromStage = words[0]?.startsWith('--from=')
            ? words.shift()?.slice('--from='.length)
            : undefined;
          const dest = words.pop();
          if (dest === undefined || words.length === 0)
            throw new Error(`COPY ${args}: no source or destination`);
          for (const source of words) {
            let from: string;
            if (fromStage === undefined) {
              const top = source.replace(/^\.\//, '').split('/')[0] ?? '';
              if (!opts.allowed.has(top))
                throw new Error(`COPY ${source}: .dockerignore keeps it out of the context`);
              from = path.join(opts.context, source);
            } else {
              const other = roots.get(fromStage);
              if (other === undefined)
                throw new Error(`COPY --from=${fromStage}: no such stage before ${stage.name}`);
              from = inRoot(other, source);
            }
            const target = inRoot(root, dest, workdir);
            const intoDir = dest.endsWith('/') || dest === '.' || words.length > 1;
            const to =
              intoDir && !statSync(from).isDirectory() ? path.join(target, path.basename(from)) : target;
            copy(from, to, fromStage !== undefined);
          }
          break;
        }
        case 'RUN':
          opts.run(args, { cwd: inRoot(root, workdir), root });
          break;
        case 'USER':
        case 'VOLUME':
        case 'EXPOSE':
        case 'HEALTHCHECK':
        case 'CMD':
          break;
        default:
          throw new Error(`Dockerfile: the replay does not know ${op}`);
      }
    }
    roots.set(stage.name, root);
    workdirs.set(stage.name, workdir);
    envs.set(stage.name, env);
  }
  return { roots, workdirs, env: envs };
}

/**
 * Copies a file, or a folder's contents into `to`, as COPY does, with `cp -a` (symlinks kept as they
 * are). Between stages (`link`) files are hard-linked instead (`cp -al`): nothing in a stage changes a
 * file it was given, and a production node_modules (20,000 files) links in a second where copying it
 * takes ten or more.
 */
function copy(from: string, to: string, link = false): void {
  const dir = statSync(from).isDirectory();
  mkdirSync(dir ? to : path.dirname(to), { recursive: true });
  const r = spawnSync('cp', [link ? '-al' : '-a', dir ? `${from}/.` : from, to], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cp -a ${from} ${to} failed: ${r.stderr}`);
}

/** Runs a shell command in `cwd`, failing with its output when it exits non-zero. */
export function sh(command: string, cwd: string, env: NodeJS.ProcessEnv): void {
  const r = spawnSync('sh', ['-c', command], { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`\`${command}\` in ${cwd} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  }
}

/** Links `node_modules` in `cwd` to `modules` (a stage's full install that this checkout already has). */
export function linkModules(cwd: string, modules: string): void {
  if (!existsSync(modules)) throw new Error(`no ${modules} to link`);
  symlinkSync(modules, path.join(cwd, 'node_modules'), 'dir');
}

export const readText = (file: string): string => readFileSync(file, 'utf8');
