/** Aligned text tables for the terminal: a header row and columns padded to their widest cell. */

export interface Column<R> {
  header: string;
  cell(row: R): string;
  /** right-align (numbers) */
  right?: boolean;
  /** cut cells longer than this with … */
  max?: number;
}

export function renderTable<R>(rows: readonly R[], columns: readonly Column<R>[]): string {
  const cells = rows.map((r) => columns.map((c) => clip(oneLine(c.cell(r)), c.max)));
  const widths = columns.map((c, i) => Math.max(width(c.header), ...cells.map((row) => width(row[i] ?? ''))));
  const line = (values: string[]) =>
    values
      .map((v, i) => {
        const pad = ' '.repeat((widths[i] ?? 0) - width(v));
        return columns[i]?.right ? pad + v : v + pad;
      })
      .join('  ')
      .trimEnd();
  return `${[line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n')}\n`;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** Cuts `s` to `max` characters, ending with … when cut. */
export function clip(s: string, max: number | undefined): string {
  if (max === undefined || [...s].length <= max) return s;
  return `${[...s].slice(0, Math.max(0, max - 1)).join('')}…`;
}

/** Display width in terminal cells: code points, ignoring combining marks (close enough for names). */
export function width(s: string): number {
  return [...s.replace(/\p{M}/gu, '')].length;
}
