"""Stage 3, analysis: ranking, the text and HTML reports, plots, leaderboard, promote."""
