"""Where a model comes from and whether it fits: the local folder of a repository (given, cached, or
downloaded only when allowed), the memory its weights need against what the device has free, the
host's peak memory while one model is judged, and the digests of the files judged."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from cardgen.smoke import codes
from cardgen.smoke.options import SmokeOptions
from cardgen.smoke.result import SmokeResult

#: the environment in which neither huggingface_hub nor transformers reaches the Hub
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def locate(repo: str, branch: str | None, opts: SmokeOptions, r: SmokeResult) -> str | None:
    """The local folder of a repository: given, in the cache, or downloaded when allowed; None (with
    the reason in ``r``) when there is none."""
    given = opts.model_paths.get(repo)
    if given is not None:
        if not Path(given).is_dir():
            r.fail(codes.LOCATE, f"model folder {given} does not exist", "locate")
            return None
        return str(given)
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    from cardgen.hub import Bounds, Hub, explain

    try:
        # weights are as large as they are: no byte cap; a download has an hour, each request a minute
        folder = Hub(Bounds(timeout=60.0, deadline=3600.0, max_bytes=None)).snapshot(
            repo, branch, local_only=not opts.allow_download)
        lacking = no_model(folder)
        if lacking is None:
            return folder
        r.skipped = (f"not available locally: the cached snapshot of {repo} {lacking}; give --model-path "
                     f"{repo}=DIR, or --allow-download to fetch it" if not opts.allow_download
                     else f"not available: {repo} {lacking}")
    except RepositoryNotFoundError:
        r.fail(codes.LOCATE, f"repository {repo} does not exist on the Hub (or is private and no token was given)",
               "locate")
    except RevisionNotFoundError:
        r.fail(codes.LOCATE, f"branch {branch!r} does not exist in {repo}", "locate")
    except LocalEntryNotFoundError as e:
        r.skipped = (f"not available locally: give --model-path {repo}=DIR, or --allow-download to fetch it"
                     if not opts.allow_download else explain(e, repo, branch, f"could not download {repo}"))
    except Exception as e:  # noqa: BLE001 - a network fault, a full disk...: this model's problem
        r.fail(codes.FETCH, explain(e, repo, branch, f"could not get {repo}"), "locate")
    return None


def no_model(folder: str) -> str | None:
    """What a snapshot lacks to be smoke-tested (a `config.json`, or GGUF files), said as "holds only ...";
    None when it has a model. `cardgen import` and `publish` leave snapshots of a README alone."""
    p = Path(folder)
    if (p / "config.json").is_file() or any(p.glob("*.gguf")):
        return None
    names = sorted(f.name for f in p.iterdir()) if p.is_dir() else []
    held = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"holds {'only ' + held if names else 'no file'}: no config.json and no GGUF file"


# -- memory ----------------------------------------------------------------------------------------
def weight_bytes(folder: str) -> int:
    """What the weight files of a model folder hold (safetensors, else PyTorch bins)."""
    files = list(Path(folder).glob("*.safetensors")) or list(Path(folder).glob("*.bin"))
    return sum(f.stat().st_size for f in files if f.is_file())


def free_bytes(cuda: bool) -> int | None:
    if cuda:
        import torch

        return int(torch.cuda.mem_get_info()[0])
    try:  # what the kernel could hand out without swapping (page cache included), else the free pages
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def stored_dtype_bytes(folder: str) -> int:
    from cardgen.files import read_json

    cfg = read_json(Path(folder) / "config.json")
    if not isinstance(cfg, dict):
        return 2
    name = str(cfg.get("torch_dtype") or cfg.get("dtype") or "float16")
    return 4 if "32" in name else 1 if "8" in name else 2


def cannot_fit(size: int, folder: str, dtype: str, cuda: bool) -> str | None:
    """Why weights of ``size`` bytes (stored in ``folder``) cannot be loaded in ``dtype`` on the GPU or
    the host, with the figures; None when they fit (or the free memory is unknown)."""
    need = size * max(1.0, (4 if dtype == "float32" else 2) / stored_dtype_bytes(folder))
    free = free_bytes(cuda)
    if free is not None and need > 0.9 * free:
        return (f"the weights need about {need / 2**30:.1f} GiB in {dtype} and the "
                f"{'GPU' if cuda else 'host'} has {free / 2**30:.1f} GiB free")
    return None


def reset_host_peak() -> bool:
    """Start counting the host's peak memory afresh (Linux: ``clear_refs`` resets the process's VmHWM), so that
    each model's figure is its own; False where it cannot be reset (the figure is then the run's so far)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def host_peak_mb() -> float:
    """The process's peak resident memory since ``reset_host_peak`` (else since it started), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# -- what was judged ---------------------------------------------------------------------------------
#: the files whose bytes a verdict rests on, besides the weights: configuration and tokenizer
JUDGED = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model",
          "special_tokens_map.json", "added_tokens.json", "vocab.txt", "vocab.json", "merges.txt", "spm.model",
          "sentencepiece.bpe.model", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json")
WEIGHTS = ("*.safetensors", "*.bin", "*.gguf")


def digests(folder: str, weights: bool = True) -> dict[str, str]:
    """sha256 of each configuration, tokenizer and (when ``weights``) weight file of a model folder, by its path
    in the folder. A file of the Hub cache is a link to a blob named by its sha256 (large files): that name is
    its digest, read without reading the file."""
    root = Path(folder)
    files = [root / f for f in JUDGED if (root / f).is_file()]
    if weights:
        files += sorted(f for pattern in WEIGHTS for f in root.glob(pattern) if f.is_file())
    return {f.relative_to(root).as_posix(): _sha256(f) for f in files}


def _sha256(path: Path) -> str:
    target = path.resolve()
    if path.is_symlink() and target.parent.name == "blobs" and re.fullmatch(r"[0-9a-f]{64}", target.name):
        return target.name
    h = hashlib.sha256()
    with open(target, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
