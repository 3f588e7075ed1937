"""Component tests: real stacks wired in-process, no mocks."""
