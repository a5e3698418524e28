"""goodbadgreedy.smk: Snakemake's params trigger without the pandas import."""

from __future__ import annotations

import subprocess
import sys

from goodbadgreedy.smk import lazy_pandas_params_serializer

CHECK = r"""
import sys
from goodbadgreedy.smk import lazy_pandas_params_serializer
from snakemake.persistence.file import FilePersistence

assert lazy_pandas_params_serializer()
p = object.__new__(FilePersistence)  # the serializers use no instance state
ser = p._serialize_param
assert ser == p._serialize_param_builtin, ser
assert ser({"temperature": 0.7, "top_p": [1, 2]}) == repr({"temperature": 0.7, "top_p": [1, 2]})
assert "pandas" not in sys.modules, "the params serializer imported pandas"
import pandas as pd
ser = p._serialize_param
assert ser == p._serialize_param_pandas, ser
df = pd.DataFrame({"a": [1, 2]})
assert ser(df) == repr(pd.util.hash_pandas_object(df).tolist())  # still hashed by value
print("ok")
"""


def test_params_serializer_imports_pandas_only_once_someone_did():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_patch_is_idempotent():
    assert lazy_pandas_params_serializer() and lazy_pandas_params_serializer()


def test_input_function_records_the_signature_snakemake_reads():
    from snakemake.common import get_function_params, get_input_function_aux_params
    from snakemake.rules import Rule

    from goodbadgreedy.smk import input_function

    @input_function
    def plain(wildcards):
        return wildcards

    @input_function
    def deriving(wildcards, input, threads):
        return input

    assert list(get_function_params(plain)) == ["wildcards"]
    assert get_function_params(plain) is get_function_params(plain)  # recorded once, not recomputed
    assert not Rule._is_deriving_function(plain) and Rule._is_deriving_function(deriving)
    aux = get_input_function_aux_params(deriving, {"input": 1, "threads": 2, "output": 3})
    assert aux == {"input": 1, "threads": 2}
    assert plain("w") == "w"
