"""The offline Python base image: debootstrap + a host wheelhouse, for graders that cannot pull.

`make base-image` -> build_base_image(). Three cached steps, each skipped when its result
is already there: the debootstrap rootfs tarball (.cache/base/), its `docker import`, and
the wheelhouse (.cache/wheelhouse/, filled by `pip download` on the host, since pip inside
a container cannot reach the index). The final image is labelled with a hash of
everything that went in, so a rebuild happens only when the requirements change.
"""
from __future__ import annotations

import hashlib
import logging
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from grader.errors import RuntimeUnavailable, UsageError
from grader.exercise import exercises_dir, repo_root
from harness.runtime.docker_engine import bounded, docker_client

log = logging.getLogger(__name__)

DEFAULT_BASE_IMAGE = "shiftwork/base:py311"
PUBLIC_BASE_IMAGE = "python:3.11-slim"
ROOTFS_IMAGE = "shiftwork/rootfs:bookworm"
SUITE = "bookworm"
INCLUDE = "python3,python3-venv,ca-certificates"
RECIPE_VERSION = "1"  # bump when the recipe changes in a way the hashed inputs do not show
HASH_LABEL = "shiftwork.base.hash"
DEBOOTSTRAP_TIMEOUT_S = 1800
BUILD_TIMEOUT_S = 1800
PULL_TIMEOUT_S = 600.0


def _say(console: Any, msg: str) -> None:
    log.info(msg)
    if console is not None:
        console.print(msg, highlight=False)


def _cache_dir() -> Path:
    return Path(os.environ.get("SHIFTWORK_CACHE", repo_root() / ".cache"))


def _requirements_path(exercise: str) -> Path:
    path = exercises_dir() / exercise / "runtime-requirements.txt"
    if not path.is_file():
        raise UsageError(f"exercise {exercise!r} has no runtime-requirements.txt ({path})")
    return path


def _dockerfile_path() -> Path:
    return repo_root() / "docker" / "base" / "Dockerfile"


def _rootfs_key() -> str:
    return hashlib.sha256(f"{SUITE}|minbase|{INCLUDE}|{platform.machine()}".encode()).hexdigest()[:12]


def requirements_hash(exercise: str) -> str:
    """What the base image is a function of: recipe, Dockerfile, requirement pins, rootfs."""
    h = hashlib.sha256()
    for part in (RECIPE_VERSION, _rootfs_key(), _dockerfile_path().read_text(), _requirements_path(exercise).read_text()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _image_label(client: Any, name: str, key: str) -> str | None:
    import docker.errors

    try:
        image = client.images.get(name)
    except docker.errors.ImageNotFound:
        return None
    return (image.labels or {}).get(key, "")


def image_present(name: str, client: Any = None) -> bool:
    import docker.errors

    client = client or docker_client()
    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def base_image_for_build(build_network: bool | None = None, client: Any = None) -> str | None:
    """Which BASE_IMAGE to pass to a submission's build; None when no usable one is local.

    python:3.11-slim is what candidates use; when builds may reach the network
    (SHIFTWORK_BUILD_NETWORK=1, a grader with internet) it comes first. Builds without a
    network cannot `pip install` on it, so then the offline image, which already holds the
    exercise's pinned packages, comes first.
    """
    if build_network is None:
        build_network = os.environ.get("SHIFTWORK_BUILD_NETWORK") == "1"
    order = [PUBLIC_BASE_IMAGE, DEFAULT_BASE_IMAGE] if build_network else [DEFAULT_BASE_IMAGE, PUBLIC_BASE_IMAGE]
    override = os.environ.get("SHIFTWORK_BASE_IMAGE")
    if override:
        order.insert(0, override)
    try:
        client = client or docker_client()
        for name in order:
            if image_present(name, client):
                return name
    except Exception as exc:  # no engine: nothing to choose
        log.debug("base_image_for_build: %s", exc)
    return None


def pull_public_base(client: Any = None, console: Any = None, timeout_s: float = PULL_TIMEOUT_S) -> bool:
    """`docker pull python:3.11-slim`; False (logged) when the engine cannot reach a registry."""
    _say(console, f"no base image here: pulling {PUBLIC_BASE_IMAGE}")
    try:
        client = client or docker_client()
        repo, tag = PUBLIC_BASE_IMAGE.split(":")
        bounded(client.images.pull, repo, tag=tag, timeout_s=timeout_s, what=f"pull {PUBLIC_BASE_IMAGE}")
        return True
    except Exception as exc:  # no registry, no network, a refused pull: the caller decides what follows
        log.info("pulling %s failed: %s", PUBLIC_BASE_IMAGE, exc)
        return False


def ready_base_image(client: Any = None, console: Any = None) -> bool:
    """Is a base image for candidates' builds here, pulling python:3.11-slim when none is?"""
    return base_image_for_build(client=client) is not None or pull_public_base(client, console)


def ensure_base_image(name: str = DEFAULT_BASE_IMAGE, exercise: str = "support-triage", console: Any = None) -> str:
    """The grader's entry: build the offline base image unless it is already current."""
    build_base_image(name=name, exercise=exercise, console=console)
    return name


def build_base_image(name: str, exercise: str, console: Any) -> None:
    """Build `name` from debootstrap + the exercise's runtime requirements; skip when current."""

    req = _requirements_path(exercise)
    digest = requirements_hash(exercise)
    client = docker_client(timeout=600)
    if _image_label(client, name, HASH_LABEL) == digest:
        _say(console, f"{name} is up to date ({HASH_LABEL}={digest}); nothing to do")
        return
    t0 = time.monotonic()
    rootfs_key = _rootfs_key()
    if _image_label(client, ROOTFS_IMAGE, "shiftwork.rootfs") != rootfs_key:
        tarball = _rootfs_tarball(rootfs_key, console)
        _say(console, f"importing {tarball.name} as {ROOTFS_IMAGE}")
        repo, tag = ROOTFS_IMAGE.rsplit(":", 1)
        client.api.import_image_from_file(
            str(tarball), repository=repo, tag=tag,
            changes=[f"LABEL shiftwork.rootfs={rootfs_key}", "ENV LANG=C.UTF-8"],
        )
    wheelhouse = _fill_wheelhouse(req, console)
    previous = _image_id(client, name)
    _build(client, name, req, wheelhouse, digest, exercise, console)
    _prune_previous(client, previous)
    size_mb = client.images.get(name).attrs["Size"] / 1e6
    _say(console, f"built {name} ({size_mb:.0f} MB) in {time.monotonic() - t0:.0f} s")


def _image_id(client: Any, name: str) -> str | None:
    import docker.errors

    try:
        return client.images.get(name).id
    except docker.errors.ImageNotFound:
        return None


def _prune_previous(client: Any, previous: str | None) -> None:
    """Drop the image this build replaced and the venv stage's leftovers (no longer a useful cache)."""
    stale = [previous] if previous and previous != _image_id(client, DEFAULT_BASE_IMAGE) else []
    try:
        stale += [i.id for i in client.images.list(filters={"dangling": True, "label": "shiftwork.rootfs"})]
    except Exception as exc:
        log.debug("list dangling: %s", exc)
    for image_id in stale:
        try:
            image = client.images.get(image_id)
            if not image.tags:
                client.images.remove(image_id, noprune=False)
        except Exception as exc:  # still used by a container or another image: keep it
            log.debug("prune %s: %s", image_id, exc)


def _rootfs_tarball(key: str, console: Any) -> Path:
    out = _cache_dir() / "base" / f"rootfs-{SUITE}-{key}.tar"
    if out.is_file():
        _say(console, f"using cached rootfs {out}")
        return out
    if shutil.which("debootstrap") is None:
        raise RuntimeUnavailable("debootstrap is not installed (Debian/Ubuntu: apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise RuntimeUnavailable("debootstrap needs root: run `make base-image` as root (or with sudo)")
    out.parent.mkdir(parents=True, exist_ok=True)
    mirror = os.environ.get("SHIFTWORK_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    with tempfile.TemporaryDirectory(prefix="shiftwork-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        logfile = out.parent / "debootstrap.log"
        _say(console, f"debootstrap {SUITE} (minbase + {INCLUDE}) from {mirror}; log: {logfile}")
        cmd = ["debootstrap", "--variant=minbase", f"--include={INCLUDE}", SUITE, str(rootfs), mirror]
        with logfile.open("wb") as fh:
            try:
                proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=DEBOOTSTRAP_TIMEOUT_S)
            except subprocess.TimeoutExpired as exc:
                raise RuntimeUnavailable(f"debootstrap took over {DEBOOTSTRAP_TIMEOUT_S} s; see {logfile}") from exc
        if proc.returncode != 0:
            tail = logfile.read_text(errors="replace").strip().splitlines()[-3:]
            raise RuntimeUnavailable(f"debootstrap failed ({proc.returncode}): {' | '.join(tail)}")
        # Downloaded .debs and apt lists are ~60 MB the image never needs.
        for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (rootfs / sub).glob("*"):
                if p.is_file():
                    p.unlink()
        partial = out.with_suffix(".tar.partial")
        subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."], check=True)
        partial.rename(out)
    return out


def _pip_platform_args() -> list[str]:
    """Wheels for the container (bookworm: glibc 2.36), whatever the host's glibc is."""
    arch = platform.machine()
    plats = [f"manylinux_2_{minor}_{arch}" for minor in range(36, 16, -1)] + [f"manylinux2014_{arch}"]
    args = ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311", "--abi", "abi3", "--abi", "none"]
    for p in plats:
        args += ["--platform", p]
    return args


def _fill_wheelhouse(req: Path, console: Any) -> Path:
    wheelhouse = _cache_dir() / "wheelhouse"
    wheelhouse.mkdir(parents=True, exist_ok=True)
    _say(console, f"pip download {req.name} -> {wheelhouse}")
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
           "-d", str(wheelhouse), "-r", str(req), *_pip_platform_args()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeUnavailable(f"pip download failed: {' | '.join(tail)}")
    return wheelhouse


def _context_tar(req: Path, wheelhouse: Path) -> Any:
    """The build context as a temporary tar file (not in memory): Dockerfile, pins, wheels."""
    buf = tempfile.TemporaryFile()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(_dockerfile_path(), arcname="Dockerfile")
        tar.add(req, arcname="runtime-requirements.txt")
        tar.add(wheelhouse, arcname="wheelhouse")
    buf.seek(0)
    return buf


def _build(client: Any, name: str, req: Path, wheelhouse: Path, digest: str, exercise: str, console: Any) -> None:
    _say(console, f"building {name} (venv + {req.name} from the wheelhouse, no network)")
    ctx = _context_tar(req, wheelhouse)
    labels = {HASH_LABEL: digest, "shiftwork.base.exercise": exercise, "shiftwork.base.suite": SUITE}
    deadline = time.monotonic() + BUILD_TIMEOUT_S
    lines: list[str] = []
    try:
        stream = client.api.build(
            fileobj=ctx, custom_context=True, tag=name, network_mode="none", pull=False, rm=True,
            forcerm=True, labels=labels, buildargs={"ROOTFS_IMAGE": ROOTFS_IMAGE}, decode=True,
        )
        for chunk in stream:
            if "stream" in chunk:
                text = chunk["stream"].rstrip()
                if text:
                    lines.append(text)
                    if text.startswith("Step "):
                        _say(console, f"  {text}")
            if "error" in chunk:
                tail = "\n".join(lines[-15:] + [chunk["error"].strip()])
                raise RuntimeUnavailable(f"base image build failed: {chunk['error'].strip()}\n{tail}")
            if time.monotonic() > deadline:
                raise RuntimeUnavailable(f"base image build took over {BUILD_TIMEOUT_S} s")
    finally:
        ctx.close()
