/**
 * One task in full: its status, its sandbox's files, and a live tail of one of them (stdout by
 * default) that polls from the last offset read and appends what is new.
 */

import type { JSX } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiError, getJson, request } from '../../lib/api';
import { Badge, Notice, Section, when } from '../../lib/components';
import { usePolled } from '../../lib/hooks';
import { bytes, type ClusterState, type FileSlice, type SandboxEntry, shortState, showResources, type TaskSummary, taskPath } from './model';
import { formatRoute } from './route';
import { KeyValues, ShortId } from './widgets';

/** Bytes asked for per read of a followed file. */
const CHUNK = 64 * 1024;
/** Characters of a followed file kept on the page; older lines are dropped. */
const KEEP = 256 * 1024;
/** How often a followed file is read for news. */
const TAIL_MS = 1000;

const TERMINAL = /FINISHED|FAILED|KILLED$|ERROR|LOST|DROPPED|GONE/;

/** A sandbox path as a URL path, each segment escaped. */
function filePath(taskId: string, path: string): string {
  return taskPath(taskId, `/files/${path.split('/').map(encodeURIComponent).join('/')}`);
}

/** A followed file: what has been read of it, and how it goes. */
export interface Tail {
  text: string;
  /** The file's size at the last read. */
  size: number;
  /** The next byte to read. */
  offset: number;
  /** Whether the start of the file was skipped (only its end is shown). */
  skipped: boolean;
  /** The file does not exist (yet). */
  missing: boolean;
  error: string | undefined;
}

/**
 * Follows `path` in the sandbox of `taskId`: starts {@link CHUNK} bytes before its end (at a line
 * start), then reads from the last offset every {@link TAIL_MS}, catching up in several reads when
 * much arrived, starting over when the file shrank.
 */
export function useTail(taskId: string, path: string): Tail {
  const [tail, setTail] = useState<Tail>({ text: '', size: 0, offset: 0, skipped: false, missing: false, error: undefined });
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let offset = -1;
    let text = '';
    let skipped = false;
    let toLineStart = false;
    let size = 0;
    const url = filePath(taskId, path);
    const step = async () => {
      let delay = TAIL_MS;
      try {
        if (offset < 0) {
          const head = await getJson<FileSlice>(`${url}?offset=0&length=0`);
          offset = Math.max(0, head.size - CHUNK);
          skipped = toLineStart = offset > 0;
        }
        for (let round = 0; round < 8 && live; round++) {
          const s = await getJson<FileSlice>(`${url}?offset=${offset}&length=${CHUNK}`);
          size = s.size;
          if (s.size < offset) {
            text += `\n--- ${path} shrank to ${bytes(s.size)}: reading it again from the start ---\n`;
            offset = 0;
            continue;
          }
          const read = s.length ?? new TextEncoder().encode(s.data).length;
          let chunk = s.data;
          if (toLineStart && chunk) {
            const nl = chunk.indexOf('\n');
            chunk = nl >= 0 ? chunk.slice(nl + 1) : '';
            toLineStart = nl < 0;
          }
          text += chunk;
          offset += read;
          if (read < CHUNK) break;
        }
        if (text.length > KEEP) {
          const cut = text.indexOf('\n', text.length - KEEP);
          text = text.slice(cut >= 0 ? cut + 1 : text.length - KEEP);
          skipped = true;
        }
        if (live) setTail({ text, size, offset, skipped, missing: false, error: undefined });
      } catch (e) {
        const missing = e instanceof ApiError && e.status === 404;
        // A file not there yet may come soon; an unreachable agent is asked again less often.
        delay = missing ? 2 * TAIL_MS : 5 * TAIL_MS;
        if (live) setTail((t) => ({ ...t, missing, error: missing ? undefined : e instanceof Error ? e.message : String(e) }));
      }
      if (live) timer = setTimeout(step, delay);
    };
    setTail({ text: '', size: 0, offset: 0, skipped: false, missing: false, error: undefined });
    void step();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [taskId, path]);
  return tail;
}

/** The task's detail panel. */
export function TaskDetail(props: {
  taskId: string;
  file: string;
  state: ClusterState;
  tick: number;
  onFile: (path: string) => void;
  onClose: () => void;
}): JSX.Element {
  const { taskId } = props;
  const task = usePolled<TaskSummary>(taskPath(taskId), 2000);
  const { reload } = task;
  useEffect(() => reload(), [props.tick, reload]);
  const t = task.data?.taskId === taskId ? task.data : undefined;
  const fw = t ? props.state.frameworks.find((f) => f.id === t.frameworkId) : undefined;
  const agent = t ? props.state.agents.find((a) => a.id === t.agentId) : undefined;
  const [killError, setKillError] = useState<string | undefined>(undefined);
  const live = t !== undefined && !TERMINAL.test(t.state);

  const kill = async () => {
    if (!confirm(`Kill task ${taskId}? Its framework hears TASK_KILLED and may launch a replacement.`)) return;
    try {
      await request('POST', taskPath(taskId, '/kill'));
      setKillError(undefined);
      reload();
    } catch (e) {
      setKillError(e instanceof Error ? e.message : String(e));
    }
  };

  const s = t?.status;
  return (
    <Section
      title={t ? `Task ${t.name}` : 'Task'}
      testId="task-detail"
      actions={
        <>
          {live ? (
            <button type="button" class="danger" onClick={kill} data-testid="task-kill">
              Kill
            </button>
          ) : null}
          <button type="button" onClick={props.onClose} data-testid="task-close">
            Close
          </button>
        </>
      }
    >
      <Notice error={killError} />
      {task.error && !t ? (
        <Notice error={task.error.startsWith('no task') ? `${task.error}: the master forgets completed tasks after a while.` : task.error} />
      ) : null}
      {t ? (
        <div class="row">
          <KeyValues
            testId="task-facts"
            items={[
              ['ID', <span class="mono">{t.taskId}</span>],
              [
                'State',
                <span data-testid="task-detail-state">
                  <Badge state={shortState(t.state)} title={t.state} />
                  {s?.healthy !== undefined ? <Badge state={s.healthy ? 'healthy' : 'unhealthy'} /> : null}
                </span>,
              ],
              ['Framework', fw ? <a href={`#${formatRoute({ tab: 'tasks', params: { framework: fw.id } })}`}>{fw.info.name}</a> : <ShortId id={t.frameworkId} />],
              ['Agent', agent ? <a href={`#${formatRoute({ tab: 'agents', params: { agent: agent.id } })}`}>{agent.hostname}</a> : <ShortId id={t.agentId} />],
              ['Resources', showResources(t.resources)],
            ]}
          />
          <KeyValues
            items={[
              ['Started', when(t.startedMs)],
              s !== undefined && ['Last status', `${when(s.timestampMs)} from ${s.source.replace('SOURCE_', '').toLowerCase()}`],
              s?.reason !== undefined && ['Reason', <span class="mono">{s.reason}</span>],
              s?.message !== undefined && ['Message', s.message],
              s?.exitCode !== undefined && ['Exit code', String(s.exitCode)],
              s?.signal !== undefined && ['Signal', s.signal],
            ]}
          />
        </div>
      ) : !task.error ? (
        <p class="muted">Loading {taskId}…</p>
      ) : null}
      <div class="sandbox">
        <SandboxFiles taskId={taskId} current={props.file} onOpen={props.onFile} tick={props.tick} />
        <FileTail taskId={taskId} path={props.file} onOpen={props.onFile} />
      </div>
    </Section>
  );
}

/** The sandbox's files, one directory at a time. */
function SandboxFiles(props: { taskId: string; current: string; onOpen: (path: string) => void; tick: number }): JSX.Element {
  const [dir, setDir] = useState('');
  useEffect(() => setDir(''), [props.taskId]);
  const listing = usePolled<{ entries?: SandboxEntry[] }>(dir ? filePath(props.taskId, dir) : taskPath(props.taskId, '/files'), 3000);
  const entries = listing.data?.entries;
  const parts = dir ? dir.split('/') : [];
  return (
    <div class="files" data-testid="sandbox-files">
      <div class="files-head">
        <button type="button" class="link" onClick={() => setDir('')}>
          sandbox
        </button>
        {parts.map((p, i) => (
          <span key={parts.slice(0, i + 1).join('/')}>
            {' / '}
            <button type="button" class="link" onClick={() => setDir(parts.slice(0, i + 1).join('/'))}>
              {p}
            </button>
          </span>
        ))}
      </div>
      {listing.error ? <Notice error={listing.error} /> : null}
      {entries ? (
        entries.length === 0 ? (
          <p class="muted small">This directory is empty.</p>
        ) : (
          <table class="grid files-table">
            <tbody>
              {entries.map((e) => {
                const path = dir ? `${dir}/${e.name}` : e.name;
                return (
                  <tr key={e.name} class={path === props.current ? 'clickable current' : 'clickable'} data-file={path} onClick={() => (e.dir ? setDir(path) : props.onOpen(path))}>
                    <td class="mono">{e.dir ? `${e.name}/` : e.name}</td>
                    <td class="num small">{e.dir ? '' : bytes(e.size)}</td>
                    <td class="small muted">{when(e.mtimeMs)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )
      ) : listing.error ? null : (
        <p class="muted small">Listing…</p>
      )}
    </div>
  );
}

/** The live tail of one sandbox file, kept scrolled to the end unless the reader scrolled up. */
function FileTail(props: { taskId: string; path: string; onOpen: (path: string) => void }): JSX.Element {
  const tail = useTail(props.taskId, props.path);
  const pre = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  useLayoutEffect(() => {
    const el = pre.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [tail.text]);
  return (
    <div class="tail">
      <div class="tail-head">
        {['stdout', 'stderr'].map((f) => (
          <button key={f} type="button" class={f === props.path ? 'tab-button active' : 'tab-button'} onClick={() => props.onOpen(f)} data-testid={`tail-${f}`}>
            {f}
          </button>
        ))}
        {props.path !== 'stdout' && props.path !== 'stderr' ? <span class="tab-button active mono">{props.path}</span> : null}
        <span class="muted small tail-info" data-testid="tail-info">
          {tail.missing ? 'waiting for the file…' : `${bytes(tail.size)}${tail.skipped ? ', showing the end' : ''} · following`}
        </span>
      </div>
      <Notice error={tail.error} />
      <pre
        class="log"
        ref={pre}
        data-testid="task-log"
        data-file={props.path}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
        }}
      >
        {tail.text || <span class="muted">{tail.missing ? `${props.path} does not exist in the sandbox yet.` : '(empty so far)'}</span>}
      </pre>
    </div>
  );
}
