"""retlab.evaluation"""
