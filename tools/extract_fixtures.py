#!/usr/bin/env python3
"""Extract golden parser fixtures from the recorded provider traffic.

Reads every VCR YAML cassette and Polly.js HAR file under
``<shared>/fixtures/cassettes`` and writes, for each LLM or vector-database
interaction, the response body exactly as the HTTP client hands it to the
middleware (after content decoding) plus a ``<case>.meta.json`` describing the
call, under ``crates/tokentrace-core/tests/fixtures/<provider>/``.

The ``<case>.expected.json`` files next to them are NOT written by this script:
they are derived by hand from the recordings (see the fixtures README).

Usage:
    python3 tools/extract_fixtures.py            # (re)write the fixture files
    python3 tools/extract_fixtures.py --check    # exit 1 if they differ from a fresh extraction
    python3 tools/extract_fixtures.py --show CASE_GLOB   # print a digest of fixtures (to help a
                                                         # human derive expected values)

Options: ``--shared DIR`` (default: ``$TOKENTRACE_SHARED``, else ``shared/`` beside the repository).
Deterministic: the same cassettes always give byte-identical files.
Requires Python 3.8+ and PyYAML.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import gzip
import json
import os
import re
import struct
import sys
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import yaml

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "crates" / "tokentrace-core" / "tests" / "fixtures"
GENERATED_BEGIN = "<!-- BEGIN GENERATED: tools/extract_fixtures.py -->"
GENERATED_END = "<!-- END GENERATED -->"

# Source repositories, as listed in shared/fixtures/README.md.
SOURCES = {
    "openllmetry": ("traceloop/openllmetry", "Apache-2.0"),
    "pydantic-ai": ("pydantic/pydantic-ai", "MIT"),
    "openinference": ("Arize-ai/openinference", "Apache-2.0"),
    "openllmetry-js": ("traceloop/openllmetry-js", "Apache-2.0"),
}

SECRET_HEADERS = {"authorization", "api-key", "x-api-key", "x-goog-api-key", "cookie", "set-cookie"}
SECRET_PATTERNS = [
    re.compile(rb"sk-[A-Za-z0-9_-]{20,}"),
    re.compile(rb"sk-ant-[A-Za-z0-9_-]{10,}"),
    re.compile(rb"AIza[0-9A-Za-z_-]{35}"),
    re.compile(rb"AKIA[0-9A-Z]{16}"),
    re.compile(rb"gsk_[A-Za-z0-9]{20,}"),
    re.compile(rb"xai-[A-Za-z0-9]{20,}"),
    re.compile(rb"pcsk_[A-Za-z0-9_]{20,}"),
    re.compile(rb"hf_[A-Za-z0-9]{30,}"),
    re.compile(rb"r8_[A-Za-z0-9]{30,}"),
    re.compile(rb"(?i)bearer\s+[A-Za-z0-9._-]{16,}"),
]


# --------------------------------------------------------------------------- classification


def classify(method: str, url: str):
    """(provider slug, flavor name) for an LLM or vector call, or None to skip it.

    Written independently of the Rust detection code on purpose: the golden
    test checks that both agree.
    """
    u = urlsplit(url)
    host = (u.hostname or "").lower()
    path = u.path
    if method != "POST":
        return None  # model lists, index descriptions, schema reads, deletes of schema
    if host == "api.openai.com":
        if path in ("/v1/chat/completions", "/v1/completions"):
            return ("openai", "openai_chat")
        if path == "/v1/responses":
            return ("openai", "openai_responses")
        if path == "/v1/embeddings":
            return ("openai", "openai_embeddings")
        return None
    if host.endswith(".openai.azure.com"):
        if path.endswith("/chat/completions") or path.endswith("/completions"):
            return ("azure", "openai_chat")
        if path.endswith("/responses"):
            return ("azure", "openai_responses")
        if path.endswith("/embeddings"):
            return ("azure", "openai_embeddings")
        return None
    if host == "api.anthropic.com":
        return ("anthropic", "anthropic") if path == "/v1/messages" else None
    if host == "generativelanguage.googleapis.com":
        return ("gemini", "gemini")
    if host.endswith("aiplatform.googleapis.com"):
        return ("vertex_ai", "gemini")
    if host in ("api.cohere.com", "api.cohere.ai"):
        if path == "/v2/chat":
            return ("cohere", "cohere_chat")
        if path in ("/v1/chat", "/v1/generate"):
            return ("cohere", "cohere_v1")
        if path in ("/v2/embed", "/v2/rerank", "/v1/embed", "/v1/rerank"):
            return ("cohere", "cohere_meta")
        return None
    if host == "api.mistral.ai":
        return ("mistral", "openai_chat")
    if host == "api.groq.com":
        return ("groq", "openai_chat")
    if host == "api.together.xyz":
        return ("together", "openai_chat")
    if host == "api.deepseek.com":
        return ("deepseek", "openai_responses") if path.endswith("/responses") else ("deepseek", "openai_chat")
    if host == "openrouter.ai":
        return ("openrouter", "openai_chat")
    if u.port == 11434:
        if path.startswith("/api/"):
            return ("ollama", "ollama")
        if path.startswith("/v1/"):
            return ("ollama", "openai_chat")
        return None
    if host.startswith("bedrock-runtime.") and host.endswith(".amazonaws.com"):
        if path.endswith("/converse") or path.endswith("/converse-stream"):
            return ("bedrock", "bedrock_converse")
        if path.endswith("/invoke") or path.endswith("/invoke-with-response-stream"):
            return ("bedrock", "bedrock_invoke")
        return None
    if host.endswith(".pinecone.io") and host != "api.pinecone.io":
        return ("pinecone", "pinecone")
    if u.port == 8080 and path in ("/v1/graphql", "/v1/objects", "/v1/batch/objects"):
        return ("weaviate", "weaviate")
    return None


def body_format(content_type, body: bytes) -> str:
    ct = (content_type or "").split(";")[0].strip().lower()
    if ct == "text/event-stream":
        return "sse"
    if ct in ("application/x-ndjson", "application/stream+json"):
        return "ndjson"
    if ct == "application/vnd.amazon.eventstream":
        return "aws_eventstream"
    if ct:
        return "json"
    # Some openinference cassettes recorded no response headers at all: sniff.
    if body.lstrip().startswith(b"data:") or body.lstrip().startswith(b"event:"):
        return "sse"
    return "json"


EXT = {"json": "json", "sse": "sse", "ndjson": "ndjson", "aws_eventstream": "bin"}


# --------------------------------------------------------------------------- reading cassettes


def _text(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8")
    return str(v)


def _headers(raw) -> dict:
    """Lowercased name -> first value (as text)."""
    out = {}
    for k, v in (raw or {}).items():
        if isinstance(v, list):
            v = v[0] if v else ""
        out[_text(k).lower()] = _text(v)
    return out


def _json_bytes(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _decode(body: bytes, encoding: str) -> bytes:
    enc = (encoding or "").strip().lower()
    if not enc or enc == "identity":
        return body
    if enc == "gzip":
        return gzip.decompress(body)
    if enc == "deflate":
        return zlib.decompress(body)
    raise SystemExit(f"unsupported Content-Encoding {enc!r}")


def _request_json(raw):
    if raw is None:
        return None
    if isinstance(raw, dict) and "string" in raw:
        raw = raw["string"]
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return None
    return raw


def read_vcr(path: Path):
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for i, it in enumerate(doc.get("interactions") or []):
        rq, rs = it["request"], it["response"]
        headers = _headers(rs.get("headers"))
        if "parsed_body" in rs:
            body = _json_bytes(rs["parsed_body"])
        else:
            raw = (rs.get("body") or {}).get("string", "")
            body = raw if isinstance(raw, bytes) else raw.encode("utf-8")
            body = _decode(body, headers.get("content-encoding", ""))
        req = rq["parsed_body"] if "parsed_body" in rq else _request_json(rq.get("body"))
        status = rs["status"]["code"] if isinstance(rs.get("status"), dict) else int(rs["status"])
        yield i, len(doc["interactions"]), rq["method"].upper(), rq["uri"], status, headers, body, req


def read_har(path: Path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    entries = doc["log"]["entries"]
    for i, e in enumerate(entries):
        rq, rs = e["request"], e["response"]
        headers = {h["name"].lower(): h["value"] for h in rs.get("headers") or []}
        content = rs.get("content") or {}
        text = content.get("text", "") or ""
        if content.get("encoding") == "base64":
            body = base64.b64decode(text)
        else:
            body = text.encode("utf-8")
        body = _decode(body, headers.get("content-encoding", ""))
        req = _request_json((rq.get("postData") or {}).get("text"))
        yield i, len(entries), rq["method"].upper(), rq["url"], int(rs["status"]), headers, body, req


# --------------------------------------------------------------------------- naming and cleaning


def case_name(cassette: Path) -> str:
    stem = cassette.stem if cassette.suffix != ".har" else cassette.parent.name
    stem = re.sub(r"_\d{6,}$", "", stem)  # Polly.js folder hash suffix
    stem = stem.replace("[", "_").replace("]", "")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_").lower()
    return stem.replace("-", "_")


def clean_url(url: str) -> str:
    url = url.split("#", 1)[0]  # recorder artefact (`#stream`), never sent on the wire
    return re.sub(r"([?&]key=)[^&]*", r"\1REDACTED", url)


def check_no_secrets(name: str, data: bytes) -> None:
    for pat in SECRET_PATTERNS:
        m = pat.search(data)
        if m:
            raise SystemExit(f"{name}: looks like a secret: {m.group(0)[:12]!r}…")
    low = data.lower()
    for h in SECRET_HEADERS:
        for q in (b'"' + h.encode() + b'":"', b'"' + h.encode() + b'": "'):
            if q in low:
                raise SystemExit(f"{name}: carries a {h} value")


def source_of(rel: str, readme: str):
    """(repo, licence) of a cassette, from the shared README table."""
    for line in readme.splitlines():
        if line.startswith("| `" + rel + "`"):
            cells = [c.strip() for c in line.split("|")]
            for repo, lic in SOURCES.values():
                if cells[2] == repo:
                    return repo, lic
            return cells[2], cells[4]
    raise SystemExit(f"{rel} is not listed in shared/fixtures/README.md")


# --------------------------------------------------------------------------- extraction


def extract(shared: Path) -> dict:
    """Relative output path -> bytes, for every fixture file this script owns."""
    root = shared / "fixtures"
    readme = (root / "README.md").read_text(encoding="utf-8")
    files: dict[str, bytes] = {}
    rows: list[str] = []
    skipped: list[str] = []
    cassettes = sorted(p for p in (root / "cassettes").rglob("*") if p.suffix in (".yaml", ".yml", ".har"))
    for cassette in cassettes:
        rel_cassette = cassette.relative_to(root).as_posix()
        repo, lic = source_of(rel_cassette, readme)
        reader = read_har if cassette.suffix == ".har" else read_vcr
        base = case_name(cassette)
        for idx, total, method, url, status, headers, body, req in reader(cassette):
            cls = classify(method, url.split("#", 1)[0])
            if cls is None:
                skipped.append(f"- `{rel_cassette}#{idx}`: {method} {clean_url(url)} (not an LLM or vector call)")
                continue
            provider, flavor = cls
            ct = headers.get("content-type")
            fmt = body_format(ct, body)
            case = base if total == 1 else f"{base}_{idx}"
            stem = f"{provider}/{case}"
            keep = {k: v for k, v in headers.items() if k == "content-type" or k.startswith("x-amzn-bedrock-") or k == "x-amzn-errortype"}
            meta = {
                "source": f"{rel_cassette}#{idx}",
                "method": method,
                "url": clean_url(url),
                "status": status,
                "content_type": ct,
                "headers": dict(sorted(keep.items())),
                "request_body": req,
                "provider": provider,
                "flavor": flavor,
                "format": fmt,
            }
            meta_bytes = (json.dumps(meta, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
            check_no_secrets(stem, meta_bytes)
            check_no_secrets(stem, body)
            if stem + "." + EXT[fmt] in files:
                raise SystemExit(f"duplicate fixture name {stem}")
            files[f"{stem}.{EXT[fmt]}"] = body
            files[f"{stem}.meta.json"] = meta_bytes
            rows.append(
                f"| `{stem}.{EXT[fmt]}` | `{rel_cassette}` #{idx} | {repo} | {lic} | {method} {clean_url(url)} → {status} | {fmt} |"
            )
    table = [
        "| fixture | cassette (under `shared/fixtures/`) #interaction | source repo | licence | call | format |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "Interactions not extracted (not an LLM or vector-database call):",
        "",
        *skipped,
    ]
    files["README.md"] = "\n".join(table).encode("utf-8")  # spliced into README by write/check
    return files


def splice_readme(existing: str, generated: str) -> str:
    if GENERATED_BEGIN in existing and GENERATED_END in existing:
        head, rest = existing.split(GENERATED_BEGIN, 1)
        _, tail = rest.split(GENERATED_END, 1)
    else:
        head, tail = existing + ("\n" if existing else ""), "\n"
    return f"{head}{GENERATED_BEGIN}\n{generated}\n{GENERATED_END}{tail}"


def materialise(files: dict) -> dict:
    out = dict(files)
    readme_path = OUT / "README.md"
    existing = readme_path.read_text(encoding="utf-8") if readme_path.exists() else ""
    out["README.md"] = splice_readme(existing, files["README.md"].decode("utf-8")).encode("utf-8")
    return out


def owned_on_disk() -> set:
    """Files on disk that extraction owns (bodies and metas, not expected/cost files)."""
    owned = set()
    if not OUT.exists():
        return owned
    for p in OUT.rglob("*"):
        if p.is_file() and p.parent != OUT and not p.name.endswith((".expected.json", ".cost.json")):
            owned.add(p.relative_to(OUT).as_posix())
    return owned


# --------------------------------------------------------------------------- digest (--show)


def sse_events(body: bytes):
    """Yield (event name, data text) per SSE event that has data (lines joined with \\n)."""
    text = body.decode("utf-8")
    for block in re.split(r"\r\n\r\n|\n\n|\r\r", text):
        name, data = None, []
        for line in re.split(r"\r\n|\n|\r", block):
            if line.startswith(":") or not line:
                continue
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if data:
            yield name, "\n".join(data)


def eventstream_frames(body: bytes):
    """Yield (headers dict, payload bytes) per AWS event-stream frame."""
    off = 0
    while off + 12 <= len(body):
        total, hlen, _crc = struct.unpack(">III", body[off : off + 12])
        hdrs, h = {}, off + 12
        end_h = h + hlen
        while h < end_h:
            nlen = body[h]
            name = body[h + 1 : h + 1 + nlen].decode()
            h += 1 + nlen
            typ = body[h]
            h += 1
            if typ == 7:
                vlen = struct.unpack(">H", body[h : h + 2])[0]
                hdrs[name] = body[h + 2 : h + 2 + vlen].decode()
                h += 2 + vlen
            else:
                raise SystemExit(f"header type {typ} not handled")
        payload = body[end_h : off + total - 4]
        if zlib.crc32(body[off : off + total - 4]) != struct.unpack(">I", body[off + total - 4 : off + total])[0]:
            raise SystemExit("bad message CRC")
        yield hdrs, payload
        off += total
    if off != len(body):
        raise SystemExit(f"{len(body) - off} trailing bytes")


INTERESTING = re.compile(
    r"usage|tokens|token_count|tokencount|model|^id$|\.id$|responseid|finish|stop_reason|stopreason|done|"
    r"error|message$|status|tier|cost|units|upsertedcount|billed|generation_id|is_finished|event_type|type$|"
    r"invocationmetrics",
    re.I,
)


def flatten(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else k)
    elif isinstance(obj, list):
        if prefix.endswith(("matches", "data", "embeddings", "results", "output", "content", "parts", "float")):
            yield prefix + ".len", len(obj)
        for i, v in enumerate(obj[:8]):
            yield from flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, obj


def digest_json(text, indent="  "):
    try:
        obj = json.loads(text)
    except ValueError:
        print(indent + "NOT JSON: " + text[:200])
        return
    for k, v in flatten(obj):
        leaf = k.split(".")[-1].split("[")[0]
        if k.endswith(".len") or INTERESTING.search(leaf):
            if isinstance(v, str) and len(v) > 120:
                v = v[:120] + "…"
            print(f"{indent}{k} = {json.dumps(v, ensure_ascii=False)}")


def show(pattern: str) -> None:
    for meta_path in sorted(OUT.rglob("*.meta.json")):
        stem = meta_path.relative_to(OUT).as_posix()[: -len(".meta.json")]
        if not fnmatch.fnmatch(stem, pattern):
            continue
        meta = json.loads(meta_path.read_text())
        body = (OUT / f"{stem}.{EXT[meta['format']]}").read_bytes()
        print(f"=== {stem}  [{meta['provider']}/{meta['flavor']}/{meta['format']}] {meta['status']} {meta['url']}")
        print(f"  headers {meta['headers']}; {len(body)} bytes; ends {body[-12:]!r}")
        if meta["format"] == "json":
            digest_json(body.decode("utf-8"))
        elif meta["format"] == "sse":
            evs = list(sse_events(body))
            print(f"  {len(evs)} events with data")
            for n, (name, data) in enumerate(evs):
                print(f"  [{n}] event={name}")
                if data != "[DONE]":
                    digest_json(data, "      ")
                else:
                    print("      [DONE]")
        elif meta["format"] == "ndjson":
            lines = [ln for ln in body.split(b"\n") if ln.strip()]
            print(f"  {len(lines)} non-empty lines")
            for n, ln in enumerate(lines):
                print(f"  [{n}]")
                digest_json(ln.decode("utf-8"), "      ")
        else:
            frames = list(eventstream_frames(body))
            print(f"  {len(frames)} frames")
            for n, (h, p) in enumerate(frames):
                print(f"  [{n}] {h}")
                try:
                    obj = json.loads(p)
                except ValueError:
                    print("      raw", p[:100])
                    continue
                if isinstance(obj, dict) and "bytes" in obj:
                    inner = base64.b64decode(obj["bytes"]).decode("utf-8")
                    print("      (bytes) ->")
                    digest_json(inner, "        ")
                else:
                    digest_json(p.decode("utf-8"), "      ")


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed fixtures differ from a fresh extraction")
    ap.add_argument("--show", metavar="GLOB", help="print a digest of fixtures whose <provider>/<case> matches GLOB")
    ap.add_argument("--shared", default=os.environ.get("TOKENTRACE_SHARED", str(REPO.parent / "shared")))
    args = ap.parse_args()
    if args.show:
        show(args.show)
        return 0
    files = materialise(extract(Path(args.shared)))
    if args.check:
        bad = []
        for rel, data in sorted(files.items()):
            p = OUT / rel
            if not p.exists() or p.read_bytes() != data:
                bad.append(f"differs or missing: {rel}")
        for rel in sorted(owned_on_disk() - set(files)):
            bad.append(f"stale (not produced by extraction): {rel}")
        for rel in sorted(files):
            if rel.endswith(".meta.json") and not (OUT / rel.replace(".meta.json", ".expected.json")).exists():
                bad.append(f"no expected file for: {rel}")
        if bad:
            print("\n".join(bad))
            return 1
        print(f"fixtures up to date ({sum(1 for r in files if r.endswith('.meta.json'))} fixtures)")
        return 0
    for rel in sorted(owned_on_disk() - set(files)):
        (OUT / rel).unlink()
    for rel, data in sorted(files.items()):
        p = OUT / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists() or p.read_bytes() != data:
            p.write_bytes(data)
    print(f"wrote {sum(1 for r in files if r.endswith('.meta.json'))} fixtures to {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
