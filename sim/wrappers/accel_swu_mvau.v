// Test wrapper (simulation only): a KxK convolution as the generator builds it, accel_swu windows
// into accel_mvau. Parameters pass straight through; the ROM files keep accel_mvau's defaults
// (weights.mem, bias.mem in the simulator's run directory).
`default_nettype none
module accel_swu_mvau #(
    parameter C = 1, parameter IN_BITS = 8, parameter IN_SIGNED = 0,
    parameter H = 5, parameter W = 5, parameter K = 3, parameter S = 1,
    parameter PT = 1, parameter PL = 1, parameter OH = 5, parameter OW = 5,
    parameter OUT_C = 4, parameter PE = 1, parameter SIMD = 1, parameter W_BITS = 8,
    parameter B_BITS = 16, parameter ACC_W = 32, parameter ACC_SHIFT = 0,
    parameter BIAS_SHIFT = 0, parameter OUT_SHIFT = 0, parameter RELU = 1,
    parameter OUT_BITS = 8, parameter LO = 0, parameter HI = 255,
    parameter MUL = 0, parameter LANES = 1
) (
    input  wire                      clk,
    input  wire                      rst_n,
    input  wire [C*IN_BITS-1:0]      s_data,
    input  wire                      s_last,
    input  wire                      s_valid,
    output wire                      s_ready,
    output wire [OUT_C*OUT_BITS-1:0] m_data,
    output wire                      m_last,
    output wire                      m_valid,
    input  wire                      m_ready
);
    wire [C*IN_BITS-1:0] w_data;
    wire w_pad, w_last, w_valid, w_ready;
    accel_swu #(.C(C), .BITS(IN_BITS), .H(H), .W(W), .K(K), .S(S), .PT(PT), .PL(PL), .OH(OH),
                .OW(OW)) u_swu (
        .clk(clk), .rst_n(rst_n), .s_data(s_data), .s_last(s_last), .s_valid(s_valid),
        .s_ready(s_ready), .m_data(w_data), .m_pad(w_pad), .m_last(w_last), .m_valid(w_valid),
        .m_ready(w_ready));
    accel_mvau #(.BEATS(K*K), .IN_C(C), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .OUT_C(OUT_C),
                 .PE(PE), .SIMD(SIMD), .W_BITS(W_BITS), .B_BITS(B_BITS), .ACC_W(ACC_W),
                 .ACC_SHIFT(ACC_SHIFT), .BIAS_SHIFT(BIAS_SHIFT), .OUT_SHIFT(OUT_SHIFT),
                 .RELU(RELU), .OUT_BITS(OUT_BITS), .LO(LO), .HI(HI), .MUL(MUL),
                 .LANES(LANES)) u_mvau (
        .clk(clk), .rst_n(rst_n), .s_data(w_data), .s_pad(w_pad), .s_last(w_last),
        .s_valid(w_valid), .s_ready(w_ready), .m_data(m_data), .m_last(m_last),
        .m_valid(m_valid), .m_ready(m_ready));
endmodule
`default_nettype wire
