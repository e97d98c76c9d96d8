"""Image sources: the built-in offline photographs and users' own folders. Both yield uint8 Nx3xRxR."""
