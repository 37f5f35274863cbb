"""Removes the CreateOperation handlers that make Vault v1.14.1 panic with sdk v0.9.2.

Usage: patch-vault.py VAULT_SOURCE_DIR

Each edit must match exactly as often as expected; anything else exits non-zero, so
a changed source tree stops the build instead of producing a server that panics.
"""
import re
import sys


def patch(path, pattern, repl, want, flags=0):
    with open(path) as f:
        src = f.read()
    new, n = re.subn(pattern, repl, src, flags=flags)
    if n != want:
        sys.exit("patch-vault: %s matched %d times, expected %d" % (path, n, want))
    if "logical.CreateOperation" in new:
        sys.exit("patch-vault: %s still declares a CreateOperation" % path)
    with open(path, "w") as f:
        f.write(new)


root = sys.argv[1]
# The managed-keys stubs list CreateOperation among their operations (two paths).
patch(root + "/vault/logical_system_helpers.go", r"logical\.CreateOperation, ", "", 2)
# transit/cache-config maps CreateOperation to a PathOperation block; drop the block,
# matching its closing brace by the indentation of its opening line.
patch(
    root + "/builtin/logical/transit/path_cache_config.go",
    r"\n(\t+)logical\.CreateOperation: &framework\.PathOperation\{.*?\n\1\},",
    "",
    1,
    re.S,
)
