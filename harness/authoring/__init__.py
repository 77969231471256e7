"""Authoring: an author's own table turned into an exercise (`shiftwork exercise new`)."""
from harness.authoring.inspect import MIN_ROWS, inspect_table, read_table
from harness.authoring.new import Authoring, Dataset, Written, new_dataset, new_exercise
from harness.authoring.schema import Column, TableSchema

__all__ = ["MIN_ROWS", "Authoring", "Column", "Dataset", "TableSchema", "Written", "inspect_table", "new_dataset",
           "new_exercise", "read_table"]
