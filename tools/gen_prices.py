#!/usr/bin/env python3
"""Generate tokentrace-core's built-in price catalogue.

Reads the MIT-licensed price tables saved under ``../shared/pricing``
(relative to the repository root; see that folder's README.md), one pair per
snapshot in ``SNAPSHOTS`` (oldest first):

* LiteLLM ``model_prices_and_context_window.json`` (USD per token), for breadth;
* pydantic genai-prices, curated, preferred when both tables price the same
  model for the same provider: the v2 JSON feed (``data.json``) or the Python
  package's ``data.py``, whose literals (``Provider(...)``, ``ModelInfo(...)``,
  ``Decimal(...)``) are read with ``ast`` (never imported or executed) into the
  same structure as the JSON feed.

The newest snapshot prices every model it has. A model (key and provider) that
an older snapshot priced and the newest no longer lists keeps its last price
and is marked ``"retained": "<snapshot>"``, so removing a model upstream never
takes its cost away. The output is
``crates/tokentrace-core/src/price/catalogue.json``: one model per line, every
price in USD per million tokens, sorted by (model, provider) so the output is
deterministic and diffs stay readable. A chat/completion model's output
limit (LiteLLM's ``max_output_tokens``) is kept as ``"max_out"`` (tokens);
budgets use it to bound a call's output when the request sets no bound.

Usage::

    python3 tools/gen_prices.py                  # regenerate
    python3 tools/gen_prices.py --check          # exit 1 if the committed file is stale
    python3 tools/gen_prices.py --pricing-dir DIR
    python3 tools/gen_prices.py --genai-json data.py > data.json   # data.py -> JSON feed

Standard library only (Python 3.11+).
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import re
import sys
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = REPO_ROOT / "crates" / "tokentrace-core" / "src" / "price" / "catalogue.json"
DEFAULT_PRICING_DIR = "../shared/pricing"

# The price-table snapshots, oldest first, paths relative to --pricing-dir.
# `as_of` is the date at which genai-prices' time-constrained price sets are
# resolved: fixed (not "today") so that regeneration is deterministic; it is
# the date the snapshot was taken. To take newer prices, add a snapshot at the
# end (older ones stay: they supply the last price of models removed upstream).
SNAPSHOTS = [
    {
        "label": "2026-11",
        "as_of": "2026-11-12",
        "litellm": "model_prices_and_context_window.json",
        "genai": "genai-prices/data.json",
        "sources": {
            "genai-prices": "pydantic/genai-prices prices/new_data/v2/data.json @ 47df840a5ab10bbcffb8e5ac01b9899032245d1b (MIT, Pydantic Services Inc.)",
            "litellm": "BerriAI/litellm model_prices_and_context_window.json, wheel 1.109.1 (MIT, Berri AI)",
        },
    },
    {
        "label": "2026-12",
        "as_of": "2026-12-06",
        "litellm": "2026-12/litellm-1.110.2/model_prices_and_context_window.json",
        "genai": "2026-12/genai-prices-0.2.5/data.py",
        "sources": {
            "genai-prices": "pydantic genai-prices 0.2.5 (PyPI wheel), genai_prices/data.py (MIT, Pydantic Services Inc.)",
            "litellm": "BerriAI/litellm model_prices_and_context_window.json, wheel 1.110.2 (MIT, Berri AI)",
        },
    },
]

# LiteLLM modes that are priced per text token and that tokentrace traces.
KEPT_MODES = {"chat", "completion", "responses", "embedding", "rerank"}

# LiteLLM `litellm_provider` -> tokentrace `Provider::slug()`.
LITELLM_PROVIDERS = {
    "openai": "openai",
    "text-completion-openai": "openai",
    "azure": "azure",
    "azure_text": "azure",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "cohere": "cohere",
    "cohere_chat": "cohere",
    "mistral": "mistral",
    "codestral": "mistral",
    "text-completion-codestral": "mistral",
    "groq": "groq",
    "together_ai": "together",
    "deepseek": "deepseek",
    "openrouter": "openrouter",
    "xai": "xai",
    "fireworks_ai": "fireworks",
    "fireworks_ai-embedding-models": "fireworks",
    "cerebras": "cerebras",
    "ollama": "ollama",
    "ollama_chat": "ollama",
    "bedrock": "bedrock",
    "bedrock_converse": "bedrock",
}

# genai-prices provider id -> tokentrace slug (or the LiteLLM provider string
# for providers tokentrace has no `Provider` for, so both tables merge).
GENAI_PROVIDERS = {
    "aws": "bedrock",
    "x-ai": "xai",
    "moonshotai": "moonshot",
    "voyageai": "voyage",
}

# LiteLLM tier fields: `<field>_above_<N>k_tokens` (no `_priority`/`_batches` suffix).
TIER_FIELD = re.compile(
    r"^(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost"
    r"|cache_creation_input_token_cost|cache_creation_input_token_cost_above_1hr"
    r"|output_cost_per_reasoning_token)_above_(\d+)k_tokens$"
)
LITELLM_FIELDS = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cache_read",
    "cache_creation_input_token_cost": "cache_write",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h",
    "output_cost_per_reasoning_token": "reasoning",
}
GENAI_FIELDS = {
    "input": ("input_mtok", "input_text_mtok"),
    "output": ("output_mtok", "output_text_mtok"),
    "cache_read": ("cache_read_mtok", "cache_text_read_mtok"),
    "cache_write": ("cache_write_mtok", "cache_write_5m_mtok", "cache_text_write_mtok"),
    "cache_write_1h": ("cache_write_1h_mtok", "cache_text_write_1h_mtok"),
    "reasoning": ("output_reasoning_mtok", "output_text_reasoning_mtok"),
}
RATE_FIELDS = ("input", "output", "cache_read", "cache_write", "cache_write_1h", "reasoning")


def per_mtok(per_token: float) -> float:
    """USD per token -> USD per million tokens, without binary noise (1.5e-07 -> 0.15)."""
    return float(Decimal(repr(float(per_token))) * 1_000_000)


def number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def litellm_provider(raw: str) -> str:
    if raw.startswith("vertex_ai"):
        return "vertex_ai"
    return LITELLM_PROVIDERS.get(raw, raw)


def bare_model(key: str, raw_provider: str, provider: str) -> str:
    """The LiteLLM key without its provider prefix (`azure/gpt-4o` -> `gpt-4o`)."""
    head, sep, rest = key.partition("/")
    if sep and head in {raw_provider, provider, raw_provider.split("-")[0]}:
        return rest
    return key


def litellm_entries(table: dict) -> list[dict]:
    out = []
    for key, spec in table.items():
        if key == "sample_spec" or not isinstance(spec, dict):
            continue
        raw = spec.get("litellm_provider")
        if not isinstance(raw, str) or spec.get("mode") not in KEPT_MODES:
            continue
        rates = {}
        for field, name in LITELLM_FIELDS.items():
            v = number(spec.get(field))
            if v is not None:
                rates[name] = per_mtok(v)
        tiers = litellm_tiers(spec, rates)
        if "input" not in rates:
            continue  # priced per character / query / second only
        rates.setdefault("output", 0.0)
        provider = litellm_provider(raw)
        entry = {"model": key, "provider": provider, "source": "litellm", **rates}
        if tiers:
            entry["tiers"] = tiers
        limit = max_output(spec)
        if limit is not None:
            entry["max_out"] = limit
        entry["_bare"] = bare_model(key, raw, provider).lower()
        out.append(entry)
    return out


# LiteLLM modes whose calls produce output tokens: the ones with an output limit.
GENERATING_MODES = {"chat", "completion", "responses"}


def max_output(spec: dict) -> int | None:
    """The model's output-token limit: LiteLLM's `max_output_tokens`, a positive whole number.

    The legacy `max_tokens` is not used: LiteLLM documents it as the output
    limit *or*, when the provider gives none, the input limit.
    """
    if spec.get("mode") not in GENERATING_MODES:
        return None
    v = number(spec.get("max_output_tokens"))
    if v is None or v < 1 or v != int(v):
        return None
    return int(v)


def litellm_tiers(spec: dict, base: dict) -> list[dict]:
    """Tiers above a threshold, sorted; a `tiered_pricing` band from 0 fills gaps in `base`."""
    tiers: dict[int, dict] = {}
    for field, value in spec.items():
        m = TIER_FIELD.match(field)
        v = number(value)
        if m and v is not None:
            tiers.setdefault(int(m.group(2)) * 1000, {})[LITELLM_FIELDS[m.group(1)]] = per_mtok(v)
    for band in spec.get("tiered_pricing") or []:
        rng = band.get("range") if isinstance(band, dict) else None
        if not (isinstance(rng, list) and rng and number(rng[0]) is not None):
            continue
        rates = {}
        for field, name in LITELLM_FIELDS.items():
            v = number(band.get(field))
            if v is not None:
                rates[name] = per_mtok(v)
        tiers.setdefault(int(rng[0]), {}).update(rates)
    for name, rate in tiers.pop(0, {}).items():
        base.setdefault(name, rate)
    out = []
    for above in sorted(tiers):
        t = tiers[above]
        t.setdefault("input", base.get("input"))
        t.setdefault("output", base.get("output", 0.0))
        if t["input"] is None:
            continue
        out.append({"above": above, **t})
    return out


def genai_current(prices: object, as_of: dt.date) -> dict | None:
    """Resolve genai-prices' price sets: the last one active at `as_of`.

    Date constraints apply from their start date. A time-of-day constraint
    (DeepSeek's off-peak discount) is taken when its window covers most of
    the day, so the catalogue holds the rate that applies most of the time.
    """
    if isinstance(prices, dict):
        return prices
    if not isinstance(prices, list):
        return None
    chosen = None
    for item in prices:
        constraint = item.get("constraint")
        if constraint is None:
            chosen = item["prices"]
        elif "start_date" in constraint:
            if dt.date.fromisoformat(constraint["start_date"]) <= as_of:
                chosen = item["prices"]
        elif "start_time" in constraint:
            start = dt.time.fromisoformat(constraint["start_time"].rstrip("Z"))
            end = dt.time.fromisoformat(constraint["end_time"].rstrip("Z"))
            mins = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
            if mins % (24 * 60) > 12 * 60:
                chosen = item["prices"]
    return chosen


def genai_rates(prices: dict) -> tuple[dict, list[dict]] | None:
    base: dict = {}
    tiered: dict[str, list] = {}
    for name, fields in GENAI_FIELDS.items():
        for field in fields:
            value = prices.get(field)
            if value is None:
                continue
            if isinstance(value, dict):
                base[name] = float(value["base"])
                tiered[name] = sorted((int(t["start"]), float(t["price"])) for t in value["tiers"])
            elif number(value) is not None:
                base[name] = float(value)
            break
    if "input" not in base:
        return None
    base.setdefault("output", 0.0)
    thresholds = sorted({start for steps in tiered.values() for start, _ in steps})
    tiers = []
    for above in thresholds:
        tier = {"above": above}
        for name in RATE_FIELDS:
            rate = base.get(name)
            for start, price in tiered.get(name, []):
                if start <= above:
                    rate = price
            if rate is not None and (name in tiered or name in ("input", "output")):
                tier[name] = rate
        tiers.append(tier)
    return base, tiers


def match_aliases(match: object) -> list[str]:
    """`equals` values reachable through `or` clauses of a genai-prices match rule."""
    if not isinstance(match, dict):
        return []
    if "equals" in match:
        return [match["equals"]]
    if "or" in match:
        return [a for clause in match["or"] for a in match_aliases(clause)]
    return []


def genai_provider(pid: str, model_id: str) -> str:
    if pid == "google":
        lower = model_id.lower()
        return "gemini" if lower.startswith(("gemini", "gemma", "learnlm")) else "vertex_ai"
    return GENAI_PROVIDERS.get(pid, pid)


def merge(litellm: list[dict], genai: list[dict], as_of: dt.date) -> list[dict]:
    """LiteLLM for breadth; genai-prices wins for the same model and provider.

    "Same" means: the LiteLLM key without its provider prefix equals the
    genai-prices model id (case-insensitive), and
    the providers normalise to the same slug (genai-prices `google` covers both
    `gemini` and `vertex_ai`). A genai-prices model no LiteLLM entry matched is
    added under its id (and aliases) for its provider.
    """
    by_bare: dict[tuple[str, str], list[dict]] = {}
    for entry in litellm:
        by_bare.setdefault((entry["_bare"], entry["provider"]), []).append(entry)
    entries = {(e["model"], e["provider"]): e for e in litellm}
    for provider in genai:
        pid = provider["id"]
        for model in provider["models"]:
            prices = genai_current(model.get("prices"), as_of)
            resolved = genai_rates(prices) if prices else None
            if resolved is None:
                continue
            base, tiers = resolved
            slug = genai_provider(pid, model["id"])
            compatible = ["gemini", "vertex_ai"] if pid == "google" else [slug]
            names = [model["id"], *match_aliases(model.get("match"))]
            seen = set()
            for name in names:
                if name.lower() in seen:
                    continue
                seen.add(name.lower())
                # Only the model id overrides LiteLLM; `equals` aliases (often a
                # `-latest` pointer that moved on) only fill gaps.
                hits = []
                if name == model["id"]:
                    hits = [e for p in compatible for e in by_bare.get((name.lower(), p), [])]
                for hit in hits:
                    for field in RATE_FIELDS:
                        hit.pop(field, None)
                    hit.pop("tiers", None)
                    hit.update(base)
                    if tiers:
                        hit["tiers"] = tiers
                    hit["source"] = "genai-prices"
                known = any(by_bare.get((name.lower(), p)) for p in compatible)
                if not hits and not known and (name, slug) not in entries:
                    entries[(name, slug)] = {
                        "model": name,
                        "provider": slug,
                        "source": "genai-prices",
                        **base,
                        **({"tiers": tiers} if tiers else {}),
                    }
    out = []
    for key in sorted(entries):
        entry = dict(entries[key])
        entry.pop("_bare", None)
        out.append(entry)
    return out


# ---------------------------------------------------------------------------
# genai-prices' Python package data (`genai_prices/data.py`), read as literals.
# ---------------------------------------------------------------------------

# Keyword arguments renamed in the JSON feed (`or_=` is `"or"`).
_PY_KEYWORDS = {"or_": "or", "and_": "and"}


def _literal(node: ast.AST) -> object:
    """A data.py expression as JSON-feed data; anything else is an error."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.Attribute) and node.attr == "UTC":
        return None  # datetime.UTC: every time in the data is UTC
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        args = [_literal(a) for a in node.args]
        kwargs = {_PY_KEYWORDS.get(k.arg, k.arg): _literal(k.value) for k in node.keywords}
        if name == "Decimal":
            return float(Decimal(str(args[0])))
        if name == "date":
            return dt.date(*args).isoformat()
        if name == "time":
            return dt.time(*args).isoformat() + "Z"
        if name and name[0].isupper() and not args:
            return kwargs  # a data class: Provider, ModelInfo, ModelPrice, Clause*, ...
        raise ValueError(f"unexpected call {name}() at line {node.lineno}")
    raise ValueError(f"unexpected {type(node).__name__} at line {getattr(node, 'lineno', '?')}")


def load_genai_py(path: Path) -> list[dict]:
    """The `providers` list of genai-prices' `data.py`, without executing it."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for stmt in tree.body:
        target = getattr(stmt, "target", None) or (getattr(stmt, "targets", None) or [None])[0]
        if isinstance(target, ast.Name) and target.id == "providers":
            return _literal(stmt.value)
    raise ValueError(f"{path}: no `providers = [...]`")


def load_genai(path: Path) -> list[dict]:
    if path.suffix == ".py":
        return load_genai_py(path)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# No text model costs this much; above it an upstream figure is in the wrong
# unit (LiteLLM's azure_ai/jais-30b-chat lists $3,200 per million input tokens).
MAX_RATE_PER_MTOK = 1000.0


def sane(entry: dict, quiet: bool = False) -> bool:
    """Drop entries with a negative, NaN or implausible rate (upstream unit errors)."""
    for rates in [entry, *entry.get("tiers", [])]:
        for name in RATE_FIELDS:
            v = rates.get(name)
            if v is not None and not (0 <= v < MAX_RATE_PER_MTOK):
                if not quiet:
                    print(f"skipping {entry['model']} ({entry['provider']}): {name} = {v}", file=sys.stderr)
                return False
    return True


def render(entries: list[dict], meta: dict) -> str:
    lines = ["{"]
    for k in sorted(meta):
        lines.append(f"{json.dumps(k)}:{json.dumps(meta[k], sort_keys=True, separators=(',', ':'))},")
    lines.append('"models":[')
    body = [json.dumps(e, sort_keys=True, separators=(",", ":")) for e in entries]
    lines.append(",\n".join(body))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def snapshot_entries(pricing_dir: Path, snap: dict, quiet: bool) -> list[dict]:
    with open(pricing_dir / snap["litellm"], encoding="utf-8") as f:
        litellm = json.load(f)
    genai = load_genai(pricing_dir / snap["genai"])
    as_of = dt.date.fromisoformat(snap["as_of"])
    return [e for e in merge(litellm_entries(litellm), genai, as_of) if sane(e, quiet)]


def generate(pricing_dir: Path, quiet: bool = False) -> str:
    """The newest snapshot's entries, plus older snapshots' entries it lacks (marked)."""
    newest = SNAPSHOTS[-1]
    entries = {(e["model"], e["provider"]): e for e in snapshot_entries(pricing_dir, newest, quiet)}
    current = len(entries)
    for snap in reversed(SNAPSHOTS[:-1]):
        for e in snapshot_entries(pricing_dir, snap, True):
            key = (e["model"], e["provider"])
            if key not in entries:
                entries[key] = {**e, "retained": snap["label"]}
    meta = {
        "as_of": newest["as_of"],
        "counts": {"current": current, "retained": len(entries) - current},
        "format": 1,
        "retained_from": {s["label"]: s["sources"] for s in SNAPSHOTS[:-1]},
        "sources": newest["sources"],
        "units": "USD per million tokens",
    }
    return render([entries[k] for k in sorted(entries)], meta)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pricing-dir", default=DEFAULT_PRICING_DIR,
                        help="folder holding the snapshots' tables (relative to the repo root)")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if the committed catalogue differs")
    parser.add_argument("--genai-json", metavar="DATA_PY",
                        help="print genai-prices' data.py as the JSON feed (for `tokentrace prices update`) and exit")
    parser.add_argument("--output", default=str(OUTPUT), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.genai_json:
        json.dump(load_genai_py(Path(args.genai_json)), sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
        return 0
    pricing_dir = Path(args.pricing_dir)
    if not pricing_dir.is_absolute():
        pricing_dir = REPO_ROOT / pricing_dir
    text = generate(pricing_dir, quiet=args.check)
    output = Path(args.output)
    counts = json.loads(text)["counts"]
    models, retained = counts["current"] + counts["retained"], counts["retained"]
    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            print(f"{output} is stale: run python3 tools/gen_prices.py", file=sys.stderr)
            return 1
        print(f"{output} is up to date ({models} models, {retained} retained from older snapshots)")
        return 0
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output} ({models} models, {retained} retained from older snapshots)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
