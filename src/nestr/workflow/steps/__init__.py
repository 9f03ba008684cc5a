"""Built-in step types; each registers under the ``nestr.steps`` entry-point group."""
