// Test wrapper (simulation only): a convolution with its weights in DDR, as issue 14 builds it.
// Pixels -> (accel_swu windows when K > 1) -> accel_mvau_tile -> outputs; the tile unit's weight
// stream comes from accel_axi_wread, whose AXI4 read port goes through accel_ar_delay (LAT cycles
// of read latency) to the ddr_* ports, where the cocotb testbench puts cocotbext-axi's AxiRam.
// NPIX, REPEAT (tiles per image) and WORDS follow from the parameters. The counters at the end
// are measurements for the testbench (tile claims of the tile unit, by hierarchical reference).
`default_nettype none
module accel_ddr_conv #(
    parameter C = 1, parameter IN_BITS = 8, parameter IN_SIGNED = 0,
    parameter H = 5, parameter W = 5, parameter K = 3, parameter S = 1,
    parameter PT = 1, parameter PL = 1, parameter OH = 5, parameter OW = 5,
    parameter OUT_C = 4, parameter PE = 1, parameter SIMD = 1, parameter W_BITS = 8,
    parameter B_BITS = 16, parameter ACC_W = 32, parameter ACC_SHIFT = 0,
    parameter BIAS_SHIFT = 0, parameter OUT_SHIFT = 0, parameter RELU = 1,
    parameter OUT_BITS = 8, parameter LO = 0, parameter HI = 255,
    parameter MUL = 0, parameter LANES = 1,
    parameter T = 4, parameter LAT = 40, parameter MAX_BURSTS = 4, parameter FIFO_BEATS = 64,
    parameter AR_DEPTH = 4,
    parameter M_C = OUT_C   // codes per output beat: OUT_C, or PE (a fold a beat)
) (
    input  wire                      clk,
    input  wire                      rst_n,
    input  wire                      en,
    input  wire [31:0]               base,
    output wire                      err,
    input  wire [C*IN_BITS-1:0]      s_data,
    input  wire                      s_last,
    input  wire                      s_valid,
    output wire                      s_ready,
    output wire [M_C*OUT_BITS-1:0]   m_data,
    output wire                      m_last,
    output wire                      m_valid,
    input  wire                      m_ready,
    output wire [0:0]                ddr_arid,
    output wire [31:0]               ddr_araddr,
    output wire [7:0]                ddr_arlen,
    output wire [2:0]                ddr_arsize,
    output wire [1:0]                ddr_arburst,
    output wire                      ddr_arvalid,
    input  wire                      ddr_arready,
    input  wire [0:0]                ddr_rid,
    input  wire [63:0]               ddr_rdata,
    input  wire [1:0]                ddr_rresp,
    input  wire                      ddr_rlast,
    input  wire                      ddr_rvalid,
    output wire                      ddr_rready,
    output wire [31:0]               lat_min,
    output wire [31:0]               lat_max,
    output wire [31:0]               bursts,
    output wire [31:0]               beats,
    output wire                      proto_err,
    output reg  [31:0]               tiles,
    output reg  [31:0]               cyc_first,
    output reg  [31:0]               cyc_last
);
    localparam NPIX = OH * OW;
    localparam BEATS = K * K;
    localparam SF = BEATS * C / SIMD;
    localparam NF = (OUT_C + PE - 1) / PE;   // a ragged PE: the last fold partial
    localparam WW = PE * SIMD * W_BITS;

    // ---- windows ----
    wire [C*IN_BITS-1:0] v_data;
    wire v_pad, v_last, v_valid, v_ready;
    generate
        if (K == 1 && S == 1 && PT == 0 && PL == 0) begin : g_direct
            assign v_data = s_data; assign v_pad = 1'b0; assign v_last = s_last;
            assign v_valid = s_valid; assign s_ready = v_ready;
        end else begin : g_swu
            accel_swu #(.C(C), .BITS(IN_BITS), .H(H), .W(W), .K(K), .S(S), .PT(PT), .PL(PL),
                        .OH(OH), .OW(OW)) u_swu (
                .clk(clk), .rst_n(rst_n), .s_data(s_data), .s_last(s_last), .s_valid(s_valid),
                .s_ready(s_ready), .m_data(v_data), .m_pad(v_pad), .m_last(v_last),
                .m_valid(v_valid), .m_ready(v_ready));
        end
    endgenerate

    // ---- weights from DDR ----
    wire [WW-1:0] w_data;
    wire w_valid, w_ready;
    wire [31:0] a_araddr;
    wire [7:0] a_arlen;
    wire a_arvalid, a_arready;
    wire [0:0] a_arid;
    wire [3:0] a_arcache;
    wire [2:0] a_arprot;
    accel_axi_wread #(.WORD_BITS(WW), .WORDS(NF * SF), .REPEAT((NPIX + T - 1) / T),
                      .MAX_BURSTS(MAX_BURSTS), .FIFO_BEATS(FIFO_BEATS)) u_rd (
        .clk(clk), .rst_n(rst_n), .en(en), .base(base), .err(err),
        .m_axi_arid(a_arid), .m_axi_araddr(a_araddr), .m_axi_arlen(a_arlen),
        .m_axi_arsize(ddr_arsize), .m_axi_arburst(ddr_arburst), .m_axi_arcache(a_arcache),
        .m_axi_arprot(a_arprot), .m_axi_arvalid(a_arvalid), .m_axi_arready(a_arready),
        .m_axi_rid(ddr_rid), .m_axi_rdata(ddr_rdata), .m_axi_rresp(ddr_rresp),
        .m_axi_rlast(ddr_rlast), .m_axi_rvalid(ddr_rvalid), .m_axi_rready(ddr_rready),
        .m_w_data(w_data), .m_w_valid(w_valid), .m_w_ready(w_ready));
    assign ddr_arid = a_arid;
    accel_ar_delay #(.LAT(LAT), .DEPTH(AR_DEPTH)) u_lat (
        .clk(clk), .rst_n(rst_n), .s_araddr(a_araddr), .s_arlen(a_arlen),
        .s_arvalid(a_arvalid), .s_arready(a_arready), .m_araddr(ddr_araddr),
        .m_arlen(ddr_arlen), .m_arvalid(ddr_arvalid), .m_arready(ddr_arready),
        .r_beat(ddr_rvalid && ddr_rready), .r_last(ddr_rlast), .lat_min(lat_min),
        .lat_max(lat_max), .bursts(bursts), .beats(beats), .proto_err(proto_err));

    // ---- the tile unit ----
    accel_mvau_tile #(.BEATS(BEATS), .IN_C(C), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED),
                      .OUT_C(OUT_C), .PE(PE), .SIMD(SIMD), .W_BITS(W_BITS), .B_BITS(B_BITS),
                      .ACC_W(ACC_W), .ACC_SHIFT(ACC_SHIFT), .BIAS_SHIFT(BIAS_SHIFT),
                      .OUT_SHIFT(OUT_SHIFT), .RELU(RELU), .OUT_BITS(OUT_BITS), .LO(LO), .HI(HI),
                      .MUL(MUL), .LANES(LANES), .T(T), .NPIX(NPIX), .M_C(M_C)) u_mvau (
        .clk(clk), .rst_n(rst_n), .s_data(v_data), .s_pad(v_pad), .s_last(v_last),
        .s_valid(v_valid), .s_ready(v_ready), .s_w_data(w_data), .s_w_valid(w_valid),
        .s_w_ready(w_ready), .m_data(m_data), .m_last(m_last), .m_valid(m_valid),
        .m_ready(m_ready));

    // ---- measurements: cycle of the third tile claim (the first waits for the DDR latency,
    // the second comes early when the emit is the bottleneck) and of the last ----
    reg [31:0] now;
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            now <= 0; tiles <= 0; cyc_first <= 0; cyc_last <= 0;
        end else begin
            now <= now + 1;
            if (u_mvau.claim) begin
                tiles <= tiles + 1;
                if (tiles == 2) cyc_first <= now;
                cyc_last <= now;
            end
        end
    end
endmodule
`default_nettype wire
