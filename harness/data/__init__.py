"""The data engine: recipe-driven generation of messy, drifting records with ground truth."""
