"""The built-in step types; each registers under the ``nestr.steps`` entry-point group.

Kept light: the registry imports one step's module when a run first uses that step, and this
package is imported with it.
"""
