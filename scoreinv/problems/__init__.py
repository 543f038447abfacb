"""Problems: benchmark tasks, and the measurements and operators users bring or simulate."""
