"""retlab.data"""
