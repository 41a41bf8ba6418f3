// A search query in the browser: the same `key=value` terms as /search/ takes (see
// dashboard/insight/search.py), matched against websocket items as they stream. The names
// come from the page (`syntax`, which the server writes from the one definition).

// Where each CloudEvent attribute sits in a websocket item.
const ITEM_FIELDS = {
  type: "type", source: "source", subject: "orderId", correlationid: "correlationId",
  causationid: "causationId", id: "eventId",
};
const TERM = /\s*([^\s=]+)=("([^"]*)"|(\S*))/y;
const PATH = /^[A-Za-z0-9_$@:-]+(\.[A-Za-z0-9_$@:-]+)*$/;

function moment(name, value) {
  let text = value.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) text += "T00:00:00Z";
  else if (/T[\d:.]+$/.test(text)) text += "Z"; // no zone is UTC, as on the server
  const at = /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(at)) {
    throw new Error(`${name}: '${value}' is not a date and time (ISO 8601, such as 2026-11-27T09:30:00Z or 2026-11-27)`);
  }
  return at;
}

/** `type=x data.a.b="two words"` as {terms, errors}: terms to match, or why not. Bounded as
 * on the server: at most `syntax.maxTerms` terms, each value at most `syntax.maxValueLength`
 * characters. */
export function parseQuery(text, syntax) {
  let terms = [];
  let errors = [];
  let count = 0;
  const source = text.trim();
  TERM.lastIndex = 0;
  while (TERM.lastIndex < source.length) {
    const start = TERM.lastIndex;
    const match = TERM.exec(source);
    if (!match) {
      errors.push(`'${source.slice(start).trim().split(/\s+/)[0]}' is not a key=value term`);
      break;
    }
    count += 1;
    if (count > syntax.maxTerms) {
      terms = [];
      errors = [`at most ${syntax.maxTerms} terms in one query`];
      break;
    }
    const key = match[1];
    const value = match[3] !== undefined ? match[3] : match[4];
    if (value === "") continue;
    try {
      if ([...value].length > syntax.maxValueLength) errors.push(`${key}: a value is at most ${syntax.maxValueLength} characters`);
      else if (syntax.attributes.includes(key)) terms.push({ kind: "attribute", field: ITEM_FIELDS[key], value, key });
      else if (key in syntax.aliases) terms.push({ kind: "data", path: syntax.aliases[key].split("."), value, key });
      else if (key === "since" || key === "until") terms.push({ kind: key, at: moment(key, value), value, key });
      else if (key.startsWith("data.") && PATH.test(key.slice(5))) terms.push({ kind: "data", path: key.slice(5).split("."), value, key });
      else if (key.startsWith("data.")) errors.push(`${key}: a data field is data.<key>.<key>…, keys of letters, digits, '_' or '-'`);
      else errors.push(`unknown attribute '${key}': search by ${[...syntax.attributes, ...Object.keys(syntax.aliases), "since", "until"].join(", ")} or data.<path>`);
    } catch (error) {
      errors.push(error.message);
    }
    while (TERM.lastIndex < source.length && /\s/.test(source[TERM.lastIndex])) TERM.lastIndex += 1;
  }
  return { terms, errors, text: source };
}

function scalar(value) {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return JSON.stringify(value);
  return null;
}

// A data field's values: the items of a list share their list's path, as on the server.
function valuesAt(value, path) {
  if (Array.isArray(value)) return value.flatMap((item) => valuesAt(item, path));
  if (!path.length) { const text = scalar(value); return text === null ? [] : [text]; }
  if (value === null || typeof value !== "object" || !(path[0] in value)) return [];
  return valuesAt(value[path[0]], path.slice(1));
}

/** Whether a websocket item holds every term. */
export function matches(item, query) {
  for (const term of query.terms) {
    if (term.kind === "attribute" && (item[term.field] || "") !== term.value) return false;
    if (term.kind === "since" || term.kind === "until") {
      const at = item.time ? Date.parse(item.time) : NaN;
      if (Number.isNaN(at) || (term.kind === "since" ? at < term.at : at >= term.at)) return false;
    }
    if (term.kind === "data") {
      const data = item.event && typeof item.event === "object" ? item.event.data : undefined;
      if (!valuesAt(data, term.path).includes(term.value)) return false;
    }
  }
  return true;
}

/** The query as /search/'s URL parameters. */
export function searchParams(query, extra = {}) {
  const params = new URLSearchParams();
  for (const term of query.terms) params.append(term.key, term.value);
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  return params;
}
