"""ir -> C: the memory planner, per-op lowering to kernel calls, and template rendering."""
