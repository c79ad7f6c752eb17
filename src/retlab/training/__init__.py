"""retlab.training"""
