"""What `sam build` does beyond copying files (the Makefile's build-* targets call it).

    python3 tools/sam_build.py config OUT             the policy compiled without keys, into a package
    python3 tools/sam_build.py requirements DIR FILE  pinned dependencies for Lambda's Python 3.13 on x86_64
    python3 tools/sam_build.py bytecode DIR           the package's bytecode, for Lambda's Python 3.13

It runs on the Python `make` is given (`PYTHON`, default `python3`), which must be 3.11 or
newer, and keeps a small environment of its own, `.venv-build`: only what compiling the
policy needs (requirements/build.txt), never the development environment, which a build
must not rebuild or delete under a running `sam`. It replaces that folder only when it
made it itself (a marker inside says so), and makes it under a lock: `sam build` builds
the functions in parallel. `EDGE_CONSENT_BUILD_ENV` puts that environment elsewhere.
Written for old interpreters too, so that they can say why
they cannot run it.
"""

import contextlib
import os
import platform
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = os.environ.get("EDGE_CONSENT_BUILD_ENV") or os.path.join(ROOT, ".venv-build")
REQUIREMENTS = os.path.join(ROOT, "requirements", "build.txt")
# The pip that installs it: the one a Python bundles is as old as that Python.
PIP_REQUIREMENTS = os.path.join(ROOT, "requirements", "pip.txt")
MARKER = ".made-by-sam-build"  # in ENV: a digest of the requirements it holds, or "incomplete"
POLICY = os.path.join(ROOT, "policy", "policy.yaml")
LAMBDA_PYTHON = "3.13"  # the template's Runtime: python3.13
LAMBDA_PLATFORM = ["--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version", LAMBDA_PYTHON]
# Every file it installs from is compiled with hashes (`make pins`): what was pinned is what is installed.
PIP_INSTALL = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--require-hashes"]


def fail(message):
    sys.stderr.write("sam build: " + message + "\n")
    sys.exit(1)


def check_python():
    if sys.version_info < (3, 11):
        fail(
            "compiling the policy needs Python 3.11 or newer, and %s is %s: run `PYTHON=python3.13 sam build` "
            "(any python3.11+ will do)" % (sys.executable, platform.python_version())
        )


def run(command, **kwargs):
    completed = subprocess.run(command, **kwargs)
    if completed.returncode:
        fail("`%s` failed (exit status %d)" % (" ".join(command[:6]), completed.returncode))


def build_python():
    """The environment's interpreter, made (or made again for new requirements) under a lock."""
    import fcntl
    import hashlib
    import venv

    digest = hashlib.sha256()
    for requirements in (PIP_REQUIREMENTS, REQUIREMENTS):
        with open(requirements, "rb") as handle:
            digest.update(handle.read())
    wanted = digest.hexdigest()
    python = os.path.join(ENV, "bin", "python")
    marker = os.path.join(ENV, MARKER)
    with open(ENV + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.lexists(ENV):
            if not os.path.isfile(marker):
                fail("%s exists and was not made by the build: move it away or remove it" % ENV)
            with open(marker) as handle:
                if handle.read().strip() == wanted:
                    return python
            shutil.rmtree(ENV)
        try:
            venv.create(ENV, with_pip=True)
        except Exception as exc:  # noqa: BLE001 - Debian without python3-venv, a full disk...
            fail("cannot create %s (%s): on Debian or Ubuntu, install python3-venv" % (ENV, exc))
        with open(marker, "w") as handle:
            handle.write("incomplete\n")  # ours, to be made again if the install below fails
        run([python, *PIP_INSTALL, "-r", PIP_REQUIREMENTS])
        run([python, *PIP_INSTALL, "-r", REQUIREMENTS])
        with open(marker, "w") as handle:
            handle.write(wanted + "\n")
    return python


def compile_config(out):
    """The policy as the edge reads it, without keys: the stack's EdgeConfig adds them at deploy time."""
    paths = [os.path.join(ROOT, name) for name in ("src", "functions", os.path.join("layers", "consent_core"))]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    command = ["-s", "-m", "edge_consent.cli", "policy", "compile", POLICY, "--without-keys", "-o", out]
    run([build_python(), *command], env=env, cwd=ROOT)


def install_requirements(target, requirements):
    pip = [build_python(), *PIP_INSTALL, "--no-deps"]
    run([*pip, "--only-binary=:all:", *LAMBDA_PLATFORM, "--no-compile", "--target", target, "-r", requirements])


def lambda_python():
    """A Python 3.13 to compile for the runtime: `PYTHON_LAMBDA`, else `python3.13` on the PATH."""
    interpreter = os.environ.get("PYTHON_LAMBDA") or shutil.which("python3.13")
    version = None
    if interpreter:
        probe = [interpreter, "-I", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        with contextlib.suppress(OSError):  # not there, not executable
            version = subprocess.run(probe, capture_output=True, text=True).stdout.strip()
    if version != LAMBDA_PYTHON:
        fail(
            "the edge packages carry bytecode for Lambda's Python %s, which needs that Python here: "
            "install python%s, or point PYTHON_LAMBDA at one (found %s)" % (LAMBDA_PYTHON, LAMBDA_PYTHON, version)
        )
    return interpreter


def compile_bytecode(package):
    """Lambda's /var/task is read-only: without bytecode, every cold start compiles every module again.

    Hash-based and unchecked, since a zip keeps no reliable time for the sources to be
    checked against, and nothing changes them once built (the config writer rewrites
    config.json only). Compiled as if in /var/task, where Lambda unpacks the package, so
    the bytes do not depend on the folder the build ran in.
    """
    compileall = ["-I", "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash"]
    run([lambda_python(), *compileall, "-s", package, "-p", "/var/task", package])


def main(argv):
    check_python()
    if argv[:1] == ["config"] and len(argv) == 2:
        compile_config(os.path.abspath(argv[1]))
    elif argv[:1] == ["requirements"] and len(argv) == 3:
        install_requirements(os.path.abspath(argv[1]), os.path.abspath(argv[2]))
    elif argv[:1] == ["bytecode"] and len(argv) == 2:
        compile_bytecode(os.path.abspath(argv[1]))
    else:
        fail("usage: sam_build.py config OUT | requirements DIR REQUIREMENTS | bytecode DIR")


if __name__ == "__main__":
    main(sys.argv[1:])
