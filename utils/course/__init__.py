"""The course's own tooling: notebooks and git, not tensors (chapter: Instructor guide).

No machine-learning module imports this package; it imports only ``utils.config``,
``utils.files`` and ``utils.checks`` (whose result format the grader reads).

- ``notebooks``  keep every notebook's set-up cell in sync, strip outputs, list the chapters
- ``student``    the student edition: solutions replaced by stubs (``make student``)
- ``grade``      execute a folder of submitted notebooks and collect the check results
- ``timing``     how long each chapter takes to execute (``make bench``)
"""
