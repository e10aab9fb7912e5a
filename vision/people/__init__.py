"""People: MoveNet MultiPose poses, person tracks with velocities, and what incident scorers read from them."""
