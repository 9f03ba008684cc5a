"""The screens of ``nestr ui``: Runs, Run, Workspace, Sync, Events, and the dialogs."""
