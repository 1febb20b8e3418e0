"""Which value a job sees for a property: Azkaban's layers, lowest to highest.

1. the ``.properties`` chain of the job's directory (Flow 1.0);
2. the input of the flow the job is in: built-in ``azkaban.flow.*`` values, the flow's ``config``, the
   flow-level runtime properties (``ROOT``), and for an embedded flow the layers 3 to 5 of its node;
3. the output properties of the job's direct parents;
4. the job's own file or Flow 2.0 ``config``;
5. runtime properties for exactly this node (``runtimeProperty[<nested id>][...]``).

With Azkaban's ``azkaban.executor.runtimeProps.override.eager=true``, the runtime properties of ``ROOT`` and
of the enclosing embedded flows are applied on top of layer 4 too. The resolution oracle in
``shared/azkaban-examples/README.md`` is the test for this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Props = Mapping[str, str]


def overlay(*layers: Props) -> dict[str, str]:
    merged: dict[str, str] = {}
    for layer in layers:
        merged.update(layer)
    return merged


def node_layers(parent_outputs: Sequence[Props], own: Props, runtime_node: Props) -> dict[str, str]:
    """Layers 3 to 5 of one node, which for an embedded-flow node become part of its flow's input."""
    return overlay(*parent_outputs, own, runtime_node)


def job_props(shared: Props, flow_input: Props, parent_outputs: Sequence[Props], own: Props,
              runtime_node: Props, eager_overrides: Sequence[Props] = ()) -> dict[str, str]:
    """The unresolved properties of a job; ``${...}`` substitution runs on the result."""
    return overlay(shared, flow_input, *parent_outputs, own, *eager_overrides, runtime_node)
