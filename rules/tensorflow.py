"""TensorFlow SavedModels: ops in the graph that run Python or touch files."""

from hfcheck.facts.model_code import saved_model_files, saved_model_graph, saved_model_ops
from hfcheck.findings import Finding
from hfcheck.registry import rule

MAX_LISTED = 5


def _listed(ops) -> str:
    shown = ", ".join(f"{op.op} ({op.node!r} in the {op.where})" for op in ops[:MAX_LISTED])
    return shown + (f" and {len(ops) - MAX_LISTED} more" if len(ops) > MAX_LISTED else "")


@rule("TFS001", concern="security", severity="error")
def tf_python_op(repo):
    """A SavedModel graph calls back into Python (PyFunc, PyFuncStateless, EagerPyFunc).

    Why: these ops run a Python function of the serving process from inside the graph
    (`tf.py_function` / `tf.numpy_function`); a graph that carries them is not portable
    and is the hook scanners see in malicious SavedModels: whoever controls the Python
    side decides what runs each time the model is called.
    Fix: re-export the model without `tf.py_function` (write the step in TensorFlow ops),
    or serve it only from reviewed code that registers the function.
    """
    for rel in saved_model_files(repo):
        if ops := saved_model_ops(repo, rel, "python"):
            yield Finding.at(rel, f"the graph runs Python through {_listed(ops)}")


@rule("TFS002", concern="security", severity="error")
def tf_file_op(repo):
    """A SavedModel graph writes files (error) or reads and lists them (warning):
    WriteFile, ReadFile, MatchingFiles, file readers.

    Why: a served model that writes files can plant code or overwrite configuration
    each time it is called; one that reads or lists paths can leak files into its
    outputs. TensorFlow's file ops also open gs://, s3:// and hdfs:// URLs.
    Fix: re-export the serving signature without file ops (load assets through
    `tf.saved_model.Asset` instead of reading paths at call time).
    """
    for rel in saved_model_files(repo):
        if writes := saved_model_ops(repo, rel, "file-write"):
            yield Finding.at(rel, f"the graph writes files through {_listed(writes)}")
        if reads := saved_model_ops(repo, rel, "file-read"):
            yield Finding.at(rel, f"the graph reads or lists files through {_listed(reads)}", severity="warning")


@rule("TFS003", concern="security", severity="error")
def tf_unchecked(repo):
    """A SavedModel graph (saved_model.pb) could not be read.

    Why: a graph that was not read may hold Python or file ops; a scanner must not pass
    what it did not see.
    Fix: replace the file with a fresh export from a trusted source.
    """
    for rel in saved_model_files(repo):
        graph = saved_model_graph(repo, rel)
        if graph is not None and graph.error:
            yield Finding.at(rel, f"SavedModel not checked: {graph.error}")
