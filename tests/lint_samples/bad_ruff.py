import os


def unused_import_and_bare_except():
    try:
        return 1
    except:
        return 2
