"""Which parts of a submitted notebook the grader runs: the definitions, nothing else.

Test cells, training loops, plots and any other top-level statement never run. From
the code cells the grader keeps, in notebook order, only the top-level statements that
the exercise functions need: their `def`s (the last one of a name wins, as in a run from
top to bottom), the functions and plain assignments (`EPS = 1e-8`, `tanh = np.tanh`)
they use, and the imports that bind names they use. Exercise cells are found by what
they define, so edited metadata or deleted test cells change nothing.
"""
import ast

from . import cells

SIMPLE_VALUES = (ast.Constant, ast.Name, ast.Attribute, ast.Lambda)


def _python(text):
    """Cell source with IPython syntax (magics, shell escapes) turned into plain Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(text)


def _simple(value):
    if isinstance(value, ast.UnaryOp):
        return _simple(value.operand)
    if isinstance(value, ast.Tuple):
        return all(_simple(v) for v in value.elts)
    return isinstance(value, SIMPLE_VALUES)


def _target_names(target):
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Tuple) and all(isinstance(t, ast.Name) for t in target.elts):
        return {t.id for t in target.elts}
    return None


def _binding(node):
    """(kind, names bound) for a statement the grader may run, else None."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "def", {node.name}
    if isinstance(node, ast.Import):
        return "import", {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, ast.ImportFrom):
        return "import", {a.asname or a.name for a in node.names}
    if isinstance(node, ast.Assign) and _simple(node.value):
        names = [_target_names(t) for t in node.targets]
        if all(n is not None for n in names):
            return "assign", set().union(*names)
    if isinstance(node, ast.AnnAssign) and node.value is not None and _simple(node.value):
        names = _target_names(node.target)
        if names:
            return "assign", names
    return None


def _used_names(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def select(nb, names):
    """What to run for exercise functions `names` of notebook `nb`.

    Returns (chosen, errors): chosen is [(cell index, python source, [statement
    positions])] for the runner; errors lists cells that do not parse.
    """
    candidates, parsed, errors = [], {}, []
    for index, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "code":
            continue
        try:
            text = _python(cells.source(cell))
            tree = ast.parse(text)
        except SyntaxError as error:
            errors.append(f"cell {index}, line {error.lineno}: SyntaxError: {error.msg}")
            continue
        except (ValueError, RecursionError, MemoryError) as error:
            errors.append(f"cell {index}: cannot be read ({type(error).__name__})")
            continue
        parsed[index] = text
        for position, node in enumerate(tree.body):
            binding = _binding(node)
            if binding:
                kind, bound = binding
                candidates.append((index, position, kind, bound, _used_names(node) if kind != "import" else set()))
    needed, kept = set(names) | {"*"}, set()  # star imports always run: who knows what they bind
    changed = True
    while changed:
        changed = False
        for index, position, kind, bound, used in candidates:
            if (index, position) not in kept and bound & needed:
                kept.add((index, position))
                needed |= used
                changed = True
    chosen = []
    for index, text in parsed.items():
        positions = sorted(p for i, p in kept if i == index)
        if positions:
            chosen.append((index, text, positions))
    return chosen, errors
