"""Parse a LightGBM ``Booster`` model string completely in Python before LightGBM's C++ parser sees it.

``Booster.__setstate__`` hands ``state["_handle"]`` (the text ``Booster.model_to_string`` wrote) to
``LGBM_BoosterLoadModelFromString``, which trusts it: ``tree_sizes`` are byte offsets it jumps to, a line
without ``=`` makes it scan past the end, and child indices, split features and categorical boundaries index
native arrays without bounds checks. The grammar admitted here is exactly what LightGBM 4 writes for this
project's models (numerical and categorical splits, no linear trees), and anything else is refused:

* the header: ``tree``, then the keys of :data:`_HEADER_KEYS` once each, ``version=v4``,
  ``num_class == num_tree_per_iteration``, ``max_feature_idx + 1`` names and feature infos, one tree size per
  tree;
* every tree, located by ``tree_sizes`` exactly as LightGBM will locate it, starting ``Tree=<i>``, with the
  keys of :data:`_TREE_KEYS` once each and arrays of the lengths ``num_leaves`` implies;
  ``left_child``/``right_child`` either a later internal node or ``~leaf`` for a leaf in range, each node but
  the root and each leaf reached exactly once; ``0 <= split_feature <= max_feature_idx``; finite values; a
  categorical split's threshold an index into ``cat_boundaries`` (``num_cat + 1`` non-decreasing offsets from
  0 to ``len(cat_threshold)``);
* then ``end of trees``, the feature importances, the parameters block and ``pandas_categorical``.

The parsed facts (:class:`BoosterFacts`) let the wiring check compare the booster's features with the pipeline's.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from diabetes_risk_model.errors import UnsafeModelState

_HEADER_KEYS = ("version", "num_class", "num_tree_per_iteration", "label_index", "max_feature_idx", "objective",
                "feature_names", "feature_infos", "tree_sizes")  # fmt: skip
_TREE_KEYS = frozenset({"num_leaves", "num_cat", "split_feature", "split_gain", "threshold", "decision_type",
                        "left_child", "right_child", "leaf_value", "leaf_weight", "leaf_count", "internal_value",
                        "internal_weight", "internal_count", "is_linear", "shrinkage"})  # fmt: skip
_SINGLE_LEAF_KEYS = frozenset({"num_leaves", "num_cat", "leaf_value", "leaf_count", "is_linear", "shrinkage"})
_CAT_KEYS = frozenset({"cat_boundaries", "cat_threshold"})
_MAX_LEAVES = 131_072
_MAX_TREES = 100_000
_MAX_FEATURES = 100_000
_MAX_MODEL_CHARS = 256 * 1024 * 1024
_NAME = re.compile(r"[A-Za-z0-9_]{1,200}")
_INFO = re.compile(r"none|\[-?[0-9.e+-]+:-?[0-9.e+-]+\]|-?[0-9]+(:-?[0-9]+)*")
_PARAM = re.compile(r"\[[a-z_0-9]+: [^\]\n]*\]")
_TRAILER = re.compile(
    r"\nparameters:\n((?:\[[^\n]*\]\n)*)\nend of parameters\n\npandas_categorical:(\[[^\n]*\]|null)\n"
)


@dataclass(frozen=True)
class BoosterFacts:
    """What the model string says about the features, for the wiring check."""

    feature_names: tuple[str, ...]
    trees: int


def _require(condition: Any, where: str, rule: str) -> None:
    if not condition:
        raise UnsafeModelState(where, rule)


def _ints(text: str, count: int, where: str, low: int, high: int) -> list[int]:
    parts = text.split(" ") if text else []
    _require(len(parts) == count, where, f"{count} values")
    _require(all(re.fullmatch(r"-?[0-9]{1,10}", part) for part in parts), where, "integers")
    values = [int(part) for part in parts]
    _require(all(low <= value <= high for value in values), where, f"each in [{low}, {high}]")
    return values


def _floats(text: str, count: int, where: str) -> list[float]:
    parts = text.split(" ") if text else []
    _require(len(parts) == count, where, f"{count} values")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise UnsafeModelState(where, "numbers") from None
    _require(all(math.isfinite(value) for value in values), where, "finite numbers")
    return values


def _key_values(lines: list[str], where: str, allowed: frozenset[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        _require(sep and key in allowed and key not in pairs, f"{where}.{key[:40]}", "a known key, once, with '='")
        pairs[key] = value
    return pairs


def _check_children(tree: dict[str, str], leaves: int, where: str) -> None:
    internal = leaves - 1
    left = _ints(tree["left_child"], internal, where + ".left_child", -leaves, internal - 1)
    right = _ints(tree["right_child"], internal, where + ".right_child", -leaves, internal - 1)
    seen_nodes = [0] * internal
    seen_leaves = [0] * leaves
    for node in range(internal):
        for child in (left[node], right[node]):
            if child >= 0:
                _require(child > node, f"{where}.node[{node}]", "an internal child has a larger index (no cycles)")
                seen_nodes[child] += 1
            else:
                seen_leaves[~child] += 1
    _require(all(n == 1 for n in seen_nodes[1:]) and seen_nodes[0] == 0, where, "each internal node reached once")
    _require(all(n == 1 for n in seen_leaves), where, "each leaf reached once")


def _check_tree(text: str, index: int, max_feature: int) -> None:
    where = f"Booster.model_str.Tree[{index}]"
    lines = text.split("\n")
    _require(lines[0] == f"Tree={index}", where, "the tree starts with its Tree=<index> line")
    end = lines.index("", 1) if "" in lines[1:] else len(lines)
    _require(all(line == "" for line in lines[end:]), where, "nothing after the tree's keys")
    tree = _key_values(lines[1:end], where, _TREE_KEYS | _CAT_KEYS)
    leaves = _ints(tree.get("num_leaves", ""), 1, where + ".num_leaves", 1, _MAX_LEAVES)[0]
    num_cat = _ints(tree.get("num_cat", ""), 1, where + ".num_cat", 0, leaves)[0]
    _require(tree.get("is_linear", "0") == "0", where + ".is_linear", "no linear trees")
    expected = _TREE_KEYS | (_CAT_KEYS if num_cat else frozenset())
    _require(set(tree) == expected, where, "exactly the keys LightGBM writes for such a tree")
    _floats(tree["leaf_value"], leaves, where + ".leaf_value")
    _floats(tree["shrinkage"], 1, where + ".shrinkage")
    if leaves == 1:
        empty = all(not tree[key] for key in _TREE_KEYS - _SINGLE_LEAF_KEYS)
        _require(empty and num_cat == 0, where, "a one-leaf tree has no splits")
        _ints(tree["leaf_count"], 1, where + ".leaf_count", 0, 2**31 - 1)
        return
    internal = leaves - 1
    _check_children(tree, leaves, where)
    _ints(tree["split_feature"], internal, where + ".split_feature", 0, max_feature)
    for name, count in (("split_gain", internal), ("internal_value", internal), ("internal_weight", internal),
                        ("leaf_weight", leaves)):  # fmt: skip
        _floats(tree[name], count, f"{where}.{name}")
    _ints(tree["leaf_count"], leaves, where + ".leaf_count", 0, 2**31 - 1)
    _ints(tree["internal_count"], internal, where + ".internal_count", 0, 2**31 - 1)
    decisions = _ints(tree["decision_type"], internal, where + ".decision_type", 0, 15)
    thresholds = _floats(tree["threshold"], internal, where + ".threshold")
    categorical = [node for node in range(internal) if decisions[node] & 1]
    _require(bool(categorical) == bool(num_cat), where + ".num_cat", "categorical splits iff num_cat > 0")
    if not num_cat:
        return
    bounds = _ints(tree["cat_boundaries"], num_cat + 1, where + ".cat_boundaries", 0, 2**31 - 1)
    words = tree["cat_threshold"].split(" ")
    _ints(tree["cat_threshold"], len(words), where + ".cat_threshold", 0, 2**32 - 1)
    ok = bounds[0] == 0 and bounds[-1] == len(words) and all(a <= b for a, b in itertools.pairwise(bounds))
    _require(ok, where + ".cat_boundaries", "non-decreasing offsets from 0 to len(cat_threshold)")
    for node in categorical:
        value = thresholds[node]
        _require(value == int(value) and 0 <= value < num_cat, f"{where}.threshold[{node}]", "a categorical index")


def check_model_string(model: Any) -> BoosterFacts:
    """Raise :class:`UnsafeModelState` unless *model* is a LightGBM 4 model string this module fully understands."""
    where = "Booster.model_str"
    _require(type(model) is str and len(model) <= _MAX_MODEL_CHARS and model.isascii(), where, "ASCII text")
    _require("\r" not in model and "\0" not in model, where, "no carriage returns or NULs")
    header_end = model.find("\n\n")
    _require(header_end > 0, where, "a header ended by a blank line")
    header = model[:header_end].split("\n")
    _require(header[0] == "tree" and len(header) == len(_HEADER_KEYS) + 1, where, "the header LightGBM 4 writes")
    keys = _key_values(header[1:], where, frozenset(_HEADER_KEYS))
    _require(tuple(keys) == _HEADER_KEYS and keys["version"] == "v4", where, "header keys in order, version v4")
    classes = _ints(keys["num_class"], 1, where + ".num_class", 1, 1024)[0]
    _require(keys["num_tree_per_iteration"] == str(classes), where, "num_tree_per_iteration == num_class")
    _ints(keys["label_index"], 1, where + ".label_index", 0, 0)
    max_feature = _ints(keys["max_feature_idx"], 1, where + ".max_feature_idx", 0, _MAX_FEATURES - 1)[0]
    names = tuple(keys["feature_names"].split(" "))
    _require(len(names) == max_feature + 1, where + ".feature_names", "max_feature_idx + 1 names")
    _require(all(_NAME.fullmatch(name) for name in names), where + ".feature_names", "plain names")
    infos = keys["feature_infos"].split(" ")
    _require(len(infos) == max_feature + 1, where + ".feature_infos", "max_feature_idx + 1 infos")
    _require(all(_INFO.fullmatch(info) for info in infos), where + ".feature_infos", "LightGBM's info syntax")
    sizes_text = keys["tree_sizes"].split(" ")
    sizes = _ints(keys["tree_sizes"], len(sizes_text), where + ".tree_sizes", 1, _MAX_MODEL_CHARS)
    _require(len(sizes) <= _MAX_TREES and len(sizes) % classes == 0, where + ".tree_sizes", "whole iterations")
    position = header_end + 2
    for index, size in enumerate(sizes):
        _require(position + size <= len(model), f"{where}.Tree[{index}]", "tree_sizes inside the string")
        _check_tree(model[position : position + size], index, max_feature)
        position += size
    rest = model[position:]
    _require(rest.startswith("end of trees\n\nfeature_importances:\n"), where, "end of trees after the last tree")
    body = rest[len("end of trees\n\nfeature_importances:\n") :]
    lines_end = body.find("\nparameters:\n")
    _require(lines_end >= 0, where, "a parameters block")
    listed = body[:lines_end]
    _require(not listed or listed.endswith("\n"), where + ".feature_importances", "one line per feature")
    importances = listed[:-1].split("\n") if listed else []
    ok = all(re.fullmatch(r"[A-Za-z0-9_]{1,200}=[0-9]{1,12}", line) for line in importances)
    _require(ok, where + ".feature_importances", "name=count lines")
    trailer = _TRAILER.fullmatch(body[lines_end:])
    _require(trailer is not None, where + ".parameters", "the parameters block and pandas_categorical")
    assert trailer is not None
    ok = all(_PARAM.fullmatch(line) for line in trailer.group(1).split("\n")[:-1])
    _require(ok, where + ".parameters", "[name: value] lines")
    try:
        categories = json.loads(trailer.group(2))
    except ValueError:
        raise UnsafeModelState(where + ".pandas_categorical", "JSON") from None
    _require(categories is None or type(categories) is list, where + ".pandas_categorical", "a list or null")
    return BoosterFacts(feature_names=names, trees=len(sizes))


def check_booster_state(state: Any) -> BoosterFacts | None:
    """Check the model string a ``Booster`` state carries (``None`` if it carries none)."""
    _require(type(state) is dict and all(type(key) is str for key in state), "Booster", "state is a dict of names")
    _require("handle" not in state, "Booster.handle", "only the _handle key LightGBM 4 writes")
    model = state.get("_handle")
    return None if model is None else check_model_string(model)
