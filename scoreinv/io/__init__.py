"""Files in and out: images, atomic writes, shared data paths, data sets, figures, progress bars."""
