"""Shared by the `horizons audit` checks: a command's exit code and output against what is expected,
with every mismatch collected in `failures`."""
failures = []


def expect(name, done, code, stdout_has=(), stderr_has=()):
    if done.returncode != code:
        failures.append(f"{name}: exit {done.returncode}, expected {code}; stderr: {done.stderr.strip()[-500:]}")
    for words in stdout_has:
        if words not in done.stdout:
            failures.append(f"{name}: stdout does not mention {words!r}: {done.stdout!r}")
    for words in stderr_has:
        if words not in done.stderr:
            failures.append(f"{name}: stderr does not mention {words!r}: {done.stderr!r}")
