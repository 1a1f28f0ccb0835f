/**
 * RFC 4180 reader for the tests: fields may be quoted, `""` is a quote inside one, every record ends
 * in CRLF. Text after the last CRLF (an unterminated record) or an unclosed quote is an error, so a
 * missing line ending in the export fails the test instead of being read around.
 */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  if (quoted || field !== '' || record.length > 0)
    throw new Error(`CSV does not end with a complete record: ${JSON.stringify(text.slice(-40))}`);
  return records;
}

/** The records after the header, as objects keyed by the header's names (a missing field reads as ''). */
export function csvObjects(text: string): Record<string, string>[] {
  const [header = [], ...rows] = parseCsv(text);
  return rows.map((row) => Object.fromEntries(header.map((name, i) => [name, row[i] ?? ''])));
}
