"""Weight files: their format, their integrity (from safetensors headers alone, never the
tensor data), the shard indexes, and whether the tensors match config.json."""

import math

from hfcheck.edits import FixRefused
from hfcheck.facts import config as cfg
from hfcheck.facts.weights import (
    BIN_INDEX,
    CONFIG_DTYPES,
    SAFETENSORS_INDEX,
    all_tensors,
    declared_dtype,
    declared_layers,
    has_embedding,
    head_tensors,
    inconsistent_layers,
    layer_stacks,
    tensor_names,
    text_stack,
    known_family,
    loaded_format,
    model_shape,
    pickle_weights,
    quantization_method,
    safetensors_files,
    shard_index,
    shard_map,
    stored_float_dtype,
)
from hfcheck.facts.security import holds_pickle, scan_summary
from hfcheck.findings import Finding
from hfcheck.registry import fixer, rule
from hfcheck.filekinds import TOKENIZER_FILES, WEIGHT_SUFFIXES


@rule("WGT001", concern="weights", severity="warning")
def pickle_weights_present(repo):
    """A weight file is a pickle (torch.save `.bin`/`.pt`/`.pth`/`.ckpt`, `.pkl`,
    `.joblib`): loading it can run arbitrary code, even when today's copy is benign.

    Why: `torch.load` and `pickle.load` execute the callables named in the file; a
    pickle swapped in a later commit runs on every machine that loads the model
    (JFrog and ProtectAI found hundreds of such models on the Hub). transformers 4.50+
    refuses `.bin` files under torch < 2.6 (CVE-2025-32434). The security scan
    (SEC rules) reports what this particular pickle would execute.
    Fix: convert to safetensors (`model.save_pretrained(path, safe_serialization=True)`,
    or the Hub's convert space) and delete the pickle files.
    Fixes: an unsafe fix (it rewrites the weights: needs --unsafe-fixes) that converts
    pytorch_model.bin (or the shards its index names) to model.safetensors (and a PEFT
    adapter_model.bin to adapter_model.safetensors), sharded
    like `save_pretrained` (5GB shards by default, option `fix.max_shard_size`), after
    the security scan passed: refused while any SEC error exists for the repo. Loads
    with `torch.load(weights_only=True, mmap=True)`, drops tied output embeddings only
    when config.json ties them (copies any other shared tensor), and verifies every
    written tensor bit for bit against the pickle. The pickles stay unless
    --fix-remove-pickles is given. Needs torch (the `smoke` extra).
    Example: pytorch_model.bin beside config.json.
    """
    for rel in pickle_weights(repo):
        verdict = _scan_verdict(repo, rel)
        yield Finding.at(rel, f"{rel} is a pickle file: loading it can execute arbitrary code{f'; {verdict}' if verdict else ''}")


def _scan_verdict(repo, rel: str) -> str | None:
    """What the security scan says of a pickle weight file. The clean statement ("only
    allowlisted globals") comes from scan_summary, which makes it only for a scan without
    problems; every part of a file the scan could not read as its loader reads it (an
    unparsed legacy tar record, a frame-straddling opcode, an unscanned 7z) is a problem.
    A file in which the scan found nothing a loader unpickles gets no clean statement."""
    scan = repo.pickle_scan(rel)
    if scan is not None and not holds_pickle(scan):
        return "the security scan found no pickle stream in it that a loader would run"
    return scan_summary(repo, rel)


@fixer("WGT001", safe=False)
def convert_pickles(repo, findings):
    """pickle weights converted to safetensors (every tensor verified bit for bit)"""
    verdict = repo.security  # the engine's judgement: every security error, whatever the settings
    if not verdict.available:
        raise FixRefused("the pickle security scan is not available, so the pickles cannot be cleared for loading")
    if verdict.failed:
        raise FixRefused(f"the security rule {', '.join(verdict.failed)} failed, so the pickles are not cleared")
    blocked = verdict.errors
    if blocked:
        codes = ", ".join(sorted({f.code for f in blocked}))
        raise FixRefused(
            f"the security scan reports {len(blocked)} error{'s' if len(blocked) != 1 else ''} ({codes}); hfcheck converts only pickles that pass it"
        )
    from hfcheck.convert import plan_conversion

    return plan_conversion(
        repo,
        max_shard_size=repo.settings.option("fix", "max_shard_size"),
        remove_pickles=bool(repo.settings.option("fix", "remove_pickles")),
    )


@rule("WGT002", concern="weights", severity="info")
def duplicate_weight_formats(repo):
    """Both `.bin` (pickle) and `.safetensors` weights are present: says which one
    transformers loads.

    Why: `from_pretrained` loads safetensors whenever model.safetensors or its index
    exists and `use_safetensors` is not False; the `.bin` copy is dead weight in every
    download, and if the two differ (one re-trained, one stale) the model you tested is
    not the one that ships when a loader (or `use_safetensors=False`) picks the other.
    Fix: delete the `.bin` weights and their index once the safetensors are verified.
    """
    has_bin = repo.exists("pytorch_model.bin") or repo.exists(BIN_INDEX)
    if has_bin and loaded_format(repo) == "safetensors":
        loaded = SAFETENSORS_INDEX if repo.exists(SAFETENSORS_INDEX) else "model.safetensors"
        other = BIN_INDEX if repo.exists(BIN_INDEX) else "pytorch_model.bin"
        yield Finding.at(
            other,
            f"both .bin and .safetensors weights are present: transformers loads {loaded} (use_safetensors defaults to True) and ignores {other}",
        )


def _lfs_candidates(repo):
    for rel in repo.files:
        name = rel.rsplit("/", 1)[-1]
        if name.endswith(WEIGHT_SUFFIXES) or name.endswith(".index.json") or name in TOKENIZER_FILES:
            yield rel


@rule("WGT003", concern="weights", severity="error")
def git_lfs_pointer(repo):
    """A weight or tokenizer file is a Git LFS pointer (a 130-byte text stub) instead of
    the real file.

    Why: the repo was cloned without git-lfs (or with GIT_LFS_SKIP_SMUDGE=1); loading
    fails with "invalid load key, 'v'", "Error while deserializing header" or a JSON
    error, and a Docker image built from this checkout ships no model.
    Fix: install git-lfs and run `git lfs install && git lfs pull`, or download with
    `huggingface-cli download`.
    """
    for rel in _lfs_candidates(repo):
        if repo.is_git_lfs_pointer(rel):
            yield Finding.at(rel, f"{rel} is a Git LFS pointer, not the file: clone without git-lfs (run `git lfs pull`)")


@rule("WGT004", concern="weights", severity="error")
def safetensors_integrity(repo):
    """A safetensors header is unreadable or inconsistent: bad length, invalid JSON,
    unknown dtype, overlapping or non-contiguous offsets, a file shorter than its
    tensors (truncated download), or a malformed `__metadata__`.

    Why: the safetensors loader checks the same things and refuses the file
    ("HeaderTooLarge", "InvalidOffset", "MetadataIncompleteBuffer"); a truncated
    download is the usual cause and is only noticed when the server starts.
    Fix: download the file again (compare its size and sha256 with the Hub's), or
    re-save the weights with `safetensors.torch.save_file`.
    """
    for rel in repo.glob_anywhere("*.safetensors"):
        if repo.is_git_lfs_pointer(rel):
            continue  # WGT003
        header = repo.safetensors(rel)
        if header is None:
            continue  # unreadable: reported by HFC001
        if header.error:
            yield Finding.at(rel, f"{rel}: {header.error}")
        for problem in header.problems[:20]:
            yield Finding.at(rel, f"{rel}: {problem}")
        if len(header.problems) > 20:
            yield Finding.at(rel, f"{rel}: {len(header.problems) - 20} more header problems")


def _index_findings(repo, index_rel):
    doc = repo.json(index_rel)
    if doc is None or doc.error:
        return  # absent, or CFG002
    index = shard_index(repo, index_rel)
    if index is None:
        yield Finding.at(index_rel, f"{index_rel} has no weight_map object: transformers cannot find the shards", line=1)
        return
    mapped = shard_map(repo, index_rel)
    missing = sorted({v for v in mapped.values() if not repo.exists(v)})
    for shard in missing:
        count = sum(1 for v in mapped.values() if v == shard)
        yield Finding.at(index_rel, f"{index_rel} names {shard} ({count} tensors) but the file is missing", line=doc.line_of("weight_map"))
    bad = [k for k, v in index["weight_map"].items() if not isinstance(v, str)]
    if bad:
        yield Finding.at(index_rel, f"weight_map entry {bad[0]!r} is not a file name", line=doc.line_of("weight_map", bad[0]))


@rule("WGT005", concern="weights", severity="error")
def shard_missing(repo):
    """A shard named in `model.safetensors.index.json` or `pytorch_model.bin.index.json`
    is missing, or the index has no `weight_map`.

    Why: `from_pretrained` opens every shard the index names and fails with "does not
    appear to have a file named model-00003-of-00004.safetensors", usually after an
    interrupted upload or a partial download.
    Fix: upload or download the missing shard, or regenerate the shards and index
    together with `save_pretrained`.
    """
    for index_rel in (SAFETENSORS_INDEX, BIN_INDEX):
        yield from _index_findings(repo, index_rel)


@rule("WGT006", concern="weights", severity="error")
def shard_map_mismatch(repo):
    """The index's `weight_map` does not match the shards: a tensor is not in the shard
    the map names, or a shard holds a tensor the map does not list.

    Why: transformers reads each tensor from the shard the map names ("tensor not
    found" / missing keys, then random initialisation with a warning), and never
    loads tensors the map omits, so a re-sharded checkpoint with a stale index loads
    silently wrong weights.
    Fix: regenerate the index with the shards (`save_pretrained`, or rebuild
    weight_map from the shard headers).
    """
    index = shard_index(repo)
    if index is None:
        return
    doc = repo.json(SAFETENSORS_INDEX)
    headers = {}
    for rel in safetensors_files(repo):
        header = repo.safetensors(rel)
        if header is not None and header.error is None:
            headers[rel] = header
    problems = []
    for name, shard in shard_map(repo).items():  # entries that are not file names: WGT005
        if shard in headers and name not in headers[shard].tensors:
            elsewhere = next((rel for rel, h in headers.items() if name in h.tensors), None)
            where = f"; it is in {elsewhere}" if elsewhere else ""
            problems.append(f"weight_map puts {name!r} in {shard} but that shard has no such tensor{where}")
    mapped = index["weight_map"]
    for rel, header in headers.items():
        for name in header.tensors:
            if name not in mapped:
                problems.append(f"{rel} holds {name!r}, which weight_map does not list: transformers never loads it")
    for problem in problems[:20]:
        yield Finding.at(SAFETENSORS_INDEX, problem, line=doc.line_of("weight_map") if doc else None)
    if len(problems) > 20:
        yield Finding.at(SAFETENSORS_INDEX, f"{len(problems) - 20} more weight_map mismatches")


@rule("WGT007", concern="weights", severity="warning")
def index_total_size(repo):
    """`metadata.total_size` in the safetensors index differs from the bytes of tensor
    data in the shards.

    Why: tools size downloads, disk and memory from total_size (accelerate's device
    map, serving memory estimates); a stale value after re-sharding or a dtype change
    misleads them. Found by comparing the index with the shard headers.
    Fix: set total_size to the sum of the tensors' byte sizes (`save_pretrained`
    writes it).
    """
    index = shard_index(repo)
    if index is None:
        return
    metadata = index.get("metadata")
    total = metadata.get("total_size") if isinstance(metadata, dict) else None
    if total is None:
        return
    doc = repo.json(SAFETENSORS_INDEX)
    line = doc.line_of("metadata", "total_size") if doc else None
    if type(total) not in (int, float) or (type(total) is float and not math.isfinite(total)):
        yield Finding.at(SAFETENSORS_INDEX, f"metadata.total_size is {total!r}, not a number", line=line)
        return
    files = safetensors_files(repo)
    headers = [repo.safetensors(rel) for rel in files]
    if len(files) != len(set(shard_map(repo).values())) or any(h is None or not h.ok for h in headers):
        return  # shards missing or damaged: WGT004/WGT005 say so, a sum would mislead
    stored = sum(info.nbytes for _, info in all_tensors(repo).values())
    if int(total) != stored:
        yield Finding.at(SAFETENSORS_INDEX, f"metadata.total_size is {int(total)} but the shards hold {stored} bytes of tensors", line=line)


def _shape_checks_apply(repo):
    """The config and the tensors can be compared: a known family, not quantized."""
    return repo.config is not None and all_tensors(repo) and quantization_method(repo) is None and known_family(repo)


@rule("WGT008", concern="weights", severity="info")
def shape_checks_skipped(repo):
    """The config-against-tensors checks (WGT009-WGT012) were skipped: the checkpoint is
    quantized, or its architecture is not one hfcheck knows the tensor names of.

    Why: quantized checkpoints (GPTQ, AWQ, bitsandbytes, fp8) store packed tensors
    whose shapes and dtypes differ from the config by design; comparing them would give
    false errors. Known families: llama, mistral, qwen2/qwen3, gemma/gemma2, phi/phi3,
    gpt2, bert/roberta, t5.
    Fix: nothing to fix; the smoke pass (`hfcheck --smoke`) loads the model for real.
    """
    config = repo.config
    if config is None or not all_tensors(repo):
        return
    method = quantization_method(repo)
    if method is not None:
        yield Finding.at("config.json", f"quantized checkpoint ({method}): tensor shape and dtype checks skipped")
    elif not known_family(repo):
        yield Finding.at(
            "config.json",
            f"model_type {config.get('model_type')!r} is not a family hfcheck knows the tensor layout of: shape checks skipped",
        )
    elif model_shape(repo) is None:
        yield Finding.at(
            "config.json", f"tensor names do not follow the {config.get('model_type')} layout hfcheck knows: shape checks skipped"
        )


def _line(repo, key):
    doc = repo.json("config.json")
    return doc.line_of(key) if doc else None


@rule("WGT009", concern="weights", severity="error")
def vocab_rows_mismatch(repo):
    """The embedding or lm_head rows differ from the config's `vocab_size`.

    Why: transformers builds the embedding with `vocab_size` rows and copies the
    stored tensor in: a different row count fails with "size mismatch for
    model.embed_tokens.weight" (or, with ignore_mismatched_sizes, silently random
    embeddings). A vocab_size padded beyond the tokenizer is fine; the stored rows
    must still equal it.
    Fix: set vocab_size to the stored rows, or resize with
    `model.resize_token_embeddings(n)` and save again.
    """
    if not _shape_checks_apply(repo):
        return
    shape = model_shape(repo)
    if shape is None or not shape.vocab_size:
        return
    tensors = all_tensors(repo)
    for name in (shape.embedding, shape.lm_head):
        if name is None:
            continue
        shard, info = tensors[name]
        if info.shape and info.shape[0] != shape.vocab_size:
            yield Finding.at(
                "config.json",
                f"{name} in {shard} has {info.shape[0]} rows but vocab_size is {shape.vocab_size}: loading fails with a size mismatch",
                line=_line(repo, "vocab_size"),
            )


@rule("WGT010", concern="weights", severity="error")
def config_shape_mismatch(repo):
    """Hidden size, intermediate size, head counts or layer count in config.json
    disagree with the stored tensors' shapes and names.

    Why: `from_pretrained` builds the model from the config: a wrong shape fails with
    "size mismatch for ..."; missing layers are randomly initialised and extra layers
    dropped with only a log warning, so the model loads and generates garbage.
    Fix: use the config the weights were saved with (`save_pretrained` writes both).
    """
    if not _shape_checks_apply(repo):
        return
    shape = model_shape(repo)
    if shape is None:
        return
    tensors = all_tensors(repo)
    reported = 0
    for expected in shape.expectations:
        if expected.tensor == shape.embedding:
            if expected.shape[1:] == tensors[expected.tensor][1].shape[1:]:
                continue  # rows are WGT009's
        found = tensors.get(expected.tensor)
        if found is None or found[1].shape == expected.shape:
            continue
        reported += 1
        if reported > 10:
            break
        yield Finding.at(
            "config.json",
            f"{expected.tensor} is {list(found[1].shape)} in {found[0]} but the config ({expected.keys}) implies {list(expected.shape)}",
            line=_line(repo, expected.keys.split(",")[0]),
        )
    for key, declared, indices in shape.layer_counts:
        if declared is None:
            continue
        if not indices:
            continue
        stored = max(indices) + 1
        gaps = sorted(set(range(stored)) - set(indices))
        if stored != declared:
            yield Finding.at("config.json", f"{key} is {declared} but the weights hold {stored} layers", line=_line(repo, key))
        if gaps:
            yield Finding.at(
                "config.json", f"layers {gaps[:10]} have no tensors: they would be randomly initialised", line=_line(repo, key)
            )


@rule("WGT011", concern="weights", severity="error")
def tied_embeddings_mismatch(repo):
    """`tie_word_embeddings` disagrees with the stored weights: untied but no
    `lm_head.weight` (error), or tied while a separate `lm_head.weight` is stored
    (warning).

    Why: untied without lm_head, transformers initialises the output layer randomly
    ("Some weights of LlamaForCausalLM were not initialized ... lm_head.weight") and
    the model generates noise; tied with a stored lm_head, the stored head is ignored
    and replaced by the embedding, so outputs differ from training.
    Fix: set `tie_word_embeddings` to match the checkpoint (true when lm_head.weight is
    absent because it shares the embedding).
    """
    if not _shape_checks_apply(repo):
        return
    shape = model_shape(repo)
    if shape is None or shape.family in ("bert", "roberta", "xlm-roberta"):
        return
    config = repo.config
    if not any(a.endswith(("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")) for a in cfg.architectures(repo)):
        return  # base models have no output head
    tied = config.get("tie_word_embeddings", shape.tied_default)
    line = _line(repo, "tie_word_embeddings")
    if tied is False and shape.lm_head is None:
        yield Finding.at(
            "config.json",
            "tie_word_embeddings is false but the weights have no lm_head.weight: the output layer would be random",
            line=line,
        )
    elif tied is True and shape.lm_head is not None:
        yield Finding.at(
            "config.json",
            "tie_word_embeddings is true but a separate lm_head.weight is stored: transformers ignores it and reuses the embedding",
            line=line,
            severity="warning",
        )


@rule("WGT012", concern="weights", severity="warning")
def dtype_mismatch(repo):
    """The dtype declared in config.json (`torch_dtype`, or `dtype` in transformers v5)
    differs from the dtype the weights are stored in.

    Why: `torch_dtype="auto"` and the serving engines (vLLM, TGI) load in the declared
    dtype: bf16 weights cast to float16 can overflow to inf/NaN (Gemma, Llama-3 do),
    and float32 declared over 16-bit weights doubles the GPU memory.
    Fix: set the declared dtype to the stored one (e.g. "bfloat16").
    """
    if not _shape_checks_apply(repo):
        return
    declared = declared_dtype(repo)
    stored = stored_float_dtype(repo)
    if declared is None or stored is None:
        return
    key, value = declared
    expected = CONFIG_DTYPES.get(value.removeprefix("torch."))
    if expected is not None and expected != stored:
        yield Finding.at("config.json", f"{key} is {value!r} but the weights are stored as {stored}", line=_line(repo, key))


def _shape_rules_cover(repo) -> bool:
    """WGT010/WGT011 judge layer count and head for this repo (a known, unquantized family)."""
    return bool(_shape_checks_apply(repo)) and model_shape(repo) is not None


@rule("WGT013", concern="weights", severity="error")
def weights_incomplete(repo):
    """The weights lack parameters the model needs: one layer lacks a tensor the other
    layers have, the stack has fewer layers than `num_hidden_layers`, a tensor the
    config implies is absent from every layer, an untied model has no output head, or
    there is no token embedding. Judged from the safetensors headers and the shard
    index alone, structurally: the layers of a stack are compared with each other, so
    it works for any architecture.

    Why: `from_pretrained` initialises every missing parameter randomly and only logs
    "Some weights of ... were not initialized from the model checkpoint"; the model
    loads, serves, and answers with garbage.
    Fix: save the checkpoint again from the complete model (`save_pretrained`), or use
    the config the weights were saved with; re-upload a shard that was cut short.
    Example: model.layers.2 without self_attn.v_proj.weight while layers 0, 1 and 3 have one.
    """
    config = repo.config
    if config is None or not tensor_names(repo):
        return
    reported = 0
    for stack in layer_stacks(repo):
        for gap in inconsistent_layers(stack):
            reported += 1
            if reported > 10:
                return
            where = f"{stack.prefix}{gap.layer}" + (f".{gap.module}" if gap.module else "")
            yield Finding.at(
                "config.json",
                f"{where} has no {', '.join(gap.missing)} while {gap.peers} other layers of {stack.prefix.rstrip('.') or 'the stack'} have it: "
                "transformers would initialise it randomly",
            )
    yield from _missing_layers(repo, config)
    yield from _missing_expected(repo)
    yield from _missing_head_or_embedding(repo, config)


def _missing_layers(repo, config):
    if _shape_rules_cover(repo):
        return  # WGT010 compares the layer count for the families it knows
    stack, declared = text_stack(repo), declared_layers(config)
    if stack is None or declared is None:
        return
    key, count = declared
    indices = stack.indices
    absent = sorted(set(range(count)) - set(indices))
    if absent:
        shown = ", ".join(map(str, absent[:10])) + (" ..." if len(absent) > 10 else "")
        yield Finding.at(
            "config.json",
            f"{key} is {count} but {stack.prefix.rstrip('.')} holds no tensors for layers {shown}: they would be randomly initialised",
            line=_line(repo, key),
        )


def _missing_expected(repo):
    if not _shape_rules_cover(repo):
        return
    names = tensor_names(repo)
    # a member some layers have is the per-layer comparison's to report; here only what no layer has
    held = {(s.prefix, member) for s in layer_stacks(repo) for members in s.members.values() for member in members}

    def in_other_layers(tensor):
        return any(tensor.startswith(prefix) and tensor[len(prefix) :].split(".", 1)[-1] == member for prefix, member in held)

    absent = [e.tensor for e in model_shape(repo).expectations if e.tensor not in names and not in_other_layers(e.tensor)]
    if absent:
        shown = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
        yield Finding.at("config.json", f"the config implies tensors the weights lack: {shown}: they would be randomly initialised")


def _missing_head_or_embedding(repo, config):
    stack = text_stack(repo)
    if stack is None:
        return
    if cfg.positive_int(config, "vocab_size") and not has_embedding(repo):
        yield Finding.at("config.json", "the weights hold no token embedding tensor: the input embedding would be random")
    if _shape_rules_cover(repo):
        return  # WGT011 judges the head of the families it knows
    generates = any(a.endswith(("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")) for a in cfg.architectures(repo))
    if generates and config.get("tie_word_embeddings") is False and not head_tensors(repo):
        yield Finding.at(
            "config.json",
            "tie_word_embeddings is false but the weights hold no output head (lm_head): the output layer would be random",
            line=_line(repo, "tie_word_embeddings"),
        )


@rule("WGT014", concern="weights", severity="error")
def no_weights(repo):
    """A model repo has a config.json and a tokenizer but no weight file at all
    (no safetensors, .bin, .h5, .msgpack, .gguf or .onnx file anywhere in it).

    Why: `from_pretrained` fails with "does not appear to have a file named
    model.safetensors"; a deployment built from this folder cannot start. It comes from
    an upload that stopped after the small files, or a `.gitignore`d weights folder.
    Fix: add the weights (`model.save_pretrained(path)`, then upload with
    `huggingface-cli upload`), or check the folder the weights were meant to be in.
    """
    config = repo.config
    if not config or not (config.get("model_type") or config.get("architectures")):
        return
    if repo.weight_files or not any(repo.exists(name) for name in TOKENIZER_FILES):
        return
    yield Finding.at(
        "config.json", "config.json and a tokenizer but no weight file: from_pretrained fails (no model.safetensors or pytorch_model.bin)"
    )
