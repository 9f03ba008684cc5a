"""Step plugins: the step types nestr ships (:mod:`nestr.plugins.builtin`).

Step types are found by name through the ``nestr.steps`` entry-point group
(:mod:`nestr.workflow.registry`); the built-ins register there like any third-party package,
so the workflow engine never imports this package.
"""
