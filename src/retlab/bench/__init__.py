"""retlab.bench"""
