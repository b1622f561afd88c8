"""Runs the README's worked example against a fresh server and checks every answer it shows.

Called by .ci/readme-examples.sh, which finds the server binary and buf. The example is the part
of README.md between the markers `<!-- readme-examples: begin -->` and `<!-- readme-examples:
end -->`. Its ```sh blocks run in order, in one bash process (so a variable or function one
block defines is there for the next), in a fresh temporary directory:

- The line `cargo run --release -- serve ARGS` is not run as written: the server binary is
  started with ARGS and `--listen 127.0.0.1:0`, and `127.0.0.1:50051` in every later command
  means the port it actually took. Everything before that line runs first (the tokens file).
- A command is every line up to a `# ->` line; the `# ->` line, and the `#   ` lines after it,
  say what its answer holds, and that is checked:
    "key": value          the answer (stdout and stderr) has this JSON member, as buf curl
                          prints it (whitespace aside)
    without "key": value  it has not
    reason NAME           an error whose ErrorInfo detail has this reason (buf curl prints the
                          details in base64; they are decoded here with buf and the repo's
                          copies of google/rpc/*.proto)
  An expected `"code": ...` means the command fails (buf curl exits non-zero); otherwise it
  must exit 0. A `# ->` line with nothing to check is an error: every answer shown is checked.
- A command with no `# ->` line after it must exit 0.

Exit status 0 when every command gave the answer shown; the closing line counts them.
"""

import base64
import json
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BEGIN = "<!-- readme-examples: begin -->"
END = "<!-- readme-examples: end -->"
README_ADDR = "127.0.0.1:50051"
SERVE = re.compile(r"^cargo run (?:--release )?-- serve(?P<args>.*)$")
FRAGMENT = re.compile(
    r'(?P<without>without\s+)?"(?P<key>[A-Za-z_][A-Za-z0-9_]*)":\s*'
    r'(?P<value>"(?:[^"\\]|\\.)*"|true|false|null|-?[0-9]+(?:\.[0-9]+)?)'
)
REASON = re.compile(r"\breason\s+(?P<reason>[A-Z][A-Z0-9_]+)\b")
DETAIL = re.compile(r'"type":\s*"(?P<type>google\.rpc\.[A-Za-z]+)",\s*"value":\s*"(?P<value>[^"]*)"')
STEP_TIMEOUT_S = 60


class Step:
    def __init__(self, code, expect="", line=0):
        self.code = code
        self.expect = expect
        self.line = line

    def title(self):
        first = next((l for l in self.code.splitlines() if l and not l.startswith("#")), "")
        return f"README.md:{self.line}: {first[:100]}"


def sh_blocks(readme):
    """The ```sh blocks between the markers, each as (first line number, lines)."""
    lines = readme.splitlines()
    try:
        start = lines.index(BEGIN)
        end = lines.index(END)
    except ValueError:
        sys.exit(f"README.md has no {BEGIN} ... {END} region")
    blocks, current, first = [], None, 0
    for number, line in enumerate(lines[start:end], start + 1):
        if current is None and line.strip() == "```sh":
            current, first = [], number + 1
        elif current is not None and line.strip() == "```":
            blocks.append((first, current))
            current = None
        elif current is not None:
            current.append(line)
    if not blocks:
        sys.exit("README.md: no ```sh block in the worked example")
    return blocks


def steps_of(blocks):
    """Commands with what their answers should hold; a serve line becomes its own step."""
    steps = []
    for first, lines in blocks:
        code, expect, code_line = [], [], first
        for number, line in enumerate(lines, first):
            if expect and not (line.startswith("#   ") or line.startswith("# ->")):
                steps.append(Step("\n".join(code), "\n".join(expect), code_line))
                code, expect = [], []
            if line.startswith("# ->") or (expect and line.startswith("#   ")):
                expect.append(line.lstrip("#").removeprefix(" ->"))
                continue
            serve = SERVE.match(line.strip())
            if serve:
                if any(l.strip() and not l.startswith("#") for l in code):
                    steps.append(Step("\n".join(code), "", code_line))
                steps.append(Step(None, serve.group("args"), number))
                code = []
                continue
            if not code:
                code_line = number
            code.append(line)
        if expect:
            steps.append(Step("\n".join(code), "\n".join(expect), code_line))
        elif any(l.strip() and not l.startswith("#") for l in code):
            steps.append(Step("\n".join(code), "", code_line))
    return steps


class Shell:
    """One bash process that runs the steps one after another, keeping its state."""

    def __init__(self, work, env):
        self.work = work
        self.proc = subprocess.Popen(
            ["bash", "--norc", "--noprofile"],
            cwd=work,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)
        self.count = 0

    def run(self, code):
        self.count += 1
        base = os.path.join(self.work, f"step-{self.count}")
        with open(base + ".sh", "w") as f:
            f.write(code + "\n")
        self.proc.stdin.write(
            f". '{base}.sh' </dev/null >'{base}.out' 2>'{base}.err'; echo \"__rc=$?\"\n"
        )
        self.proc.stdin.flush()
        deadline = time.monotonic() + STEP_TIMEOUT_S
        line = ""
        while not line.startswith("__rc="):
            left = deadline - time.monotonic()
            if left <= 0 or not self.selector.select(timeout=left):
                raise RuntimeError(f"no answer within {STEP_TIMEOUT_S} s")
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the shell exited (does the example call `exit`?)")
        out = open(base + ".out", errors="replace").read()
        err = open(base + ".err", errors="replace").read()
        return int(line.strip().removeprefix("__rc=")), out, err

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


class Decoder:
    """Error details, base64 in buf curl's output, decoded to JSON with `buf convert`."""

    def __init__(self, buf, proto_dir, work):
        self.buf = buf
        self.module = os.path.join(work, "google-rpc-module")
        shutil.copytree(
            os.path.join(proto_dir, "google", "rpc"),
            os.path.join(self.module, "google", "rpc"),
            ignore=shutil.ignore_patterns("*.md"),
        )
        with open(os.path.join(self.module, "buf.yaml"), "w") as f:
            f.write("version: v2\n")

    def details(self, text):
        """(type, decoded JSON) of each detail in `text`."""
        out = []
        for m in DETAIL.finditer(text):
            value = m.group("value")
            raw = base64.b64decode(value + "=" * (-len(value) % 4))
            path = os.path.join(self.module, "detail.binpb")
            with open(path, "wb") as f:
                f.write(raw)
            decoded = subprocess.run(
                [self.buf, "convert", self.module, "--type", m.group("type"),
                 "--from", path + "#format=binpb", "--to", "-#format=json"],
                capture_output=True, text=True, check=True,
            ).stdout
            out.append((m.group("type"), json.loads(decoded)))
        return out


def check(step, rc, out, err, decoder):
    """The problems with one command's answer (empty when it is as the README says)."""
    problems = []
    text = out + "\n" + err
    details = decoder.details(text)
    decoded = "\n".join(json.dumps(d, indent=1) for _, d in details)
    reasons = [d.get("reason") for t, d in details if t == "google.rpc.ErrorInfo"]
    fragments = list(FRAGMENT.finditer(step.expect))
    wanted_reasons = [m.group("reason") for m in REASON.finditer(step.expect)]
    if step.expect and not fragments and not wanted_reasons:
        problems.append(f"nothing to check in `# ->{step.expect}`")
    expects_error = any(m.group("key") == "code" and not m.group("without") for m in fragments)
    if expects_error and rc == 0:
        problems.append("succeeded, but the README shows an error")
    if not expects_error and rc != 0:
        problems.append(f"exited {rc}")
    for m in fragments:
        pattern = re.compile(r'"%s"\s*:\s*%s' % (re.escape(m.group("key")), re.escape(m.group("value"))))
        found = pattern.search(text) or pattern.search(decoded)
        if m.group("without") and found:
            problems.append(f"has {m.group(0).split(None, 1)[1]}")
        elif not m.group("without") and not found:
            problems.append(f"no {m.group(0)}")
    for reason in wanted_reasons:
        if reason not in reasons:
            problems.append(f"no ErrorInfo with reason {reason} (reasons: {reasons})")
    return problems


class Server:
    def __init__(self, binary, args, work, env):
        self.log_path = os.path.join(work, "server.log")
        self.proc = subprocess.Popen(
            [binary, "serve", *args, "--listen", "127.0.0.1:0"],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=open(self.log_path, "w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            m = re.search(r"clientstatus listening addr=(\S+)", self.log())
            if m:
                self.addr = m.group(1)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("the server did not start; its log:\n" + self.log())

    def log(self):
        return open(self.log_path, errors="replace").read()

    def stop(self):
        """SIGTERM, as an operator would; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "still running 30 s after SIGTERM"
        return self.proc.returncode


def main():
    readme_path, binary, buf, proto_dir = (os.path.abspath(a) for a in sys.argv[1:5])
    with open(readme_path) as f:
        steps = steps_of(sh_blocks(f.read()))
    work = tempfile.mkdtemp(prefix="clientstatus-readme-")
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir)
    os.symlink(buf, os.path.join(bindir, "buf"))
    env = dict(os.environ)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.pop("RUST_LOG", None)
    env.pop("NO_COLOR", None)
    decoder = Decoder(buf, proto_dir, work)
    shell = Shell(work, env)
    server = None
    passed = failed = 0
    try:
        for step in steps:
            if step.code is None:
                if server is not None:
                    sys.exit(f"README.md:{step.line}: a second server start")
                server = Server(binary, shlex.split(step.expect), work, env)
                print(f"README.md:{step.line}: server started on {server.addr}", flush=True)
                continue
            code = step.code
            if server is not None:
                code = code.replace(README_ADDR, server.addr)
            try:
                rc, out, err = shell.run(code)
                problems = check(step, rc, out, err, decoder)
            except (RuntimeError, subprocess.CalledProcessError) as e:
                rc, out, err, problems = None, "", "", [str(e)]
            if problems:
                failed += 1
                print(f"FAILED {step.title()}", flush=True)
                print("  command:\n    " + code.replace("\n", "\n    "))
                print("  expected:" + step.expect.replace("\n", "\n   "))
                print("  problems: " + "; ".join(problems))
                print(f"  exit {rc}; stdout:\n{out}\n  stderr:\n{err}", flush=True)
                # Later commands build on this one: their failures would only repeat it.
                break
            passed += 1
            print(f"ok {step.title()}", flush=True)
        if server is None:
            failed += 1
            print("FAILED: the worked example never starts the server")
    finally:
        shell.close()
        if server is not None:
            stopped = server.stop()
            if stopped != 0:
                failed += 1
                print(f"FAILED: the server's exit on SIGTERM: {stopped}")
            if failed:
                print("server log (last 40 lines):")
                print("\n".join(server.log().splitlines()[-40:]))
        shutil.rmtree(work, ignore_errors=True)
    print(f"readme-examples: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
